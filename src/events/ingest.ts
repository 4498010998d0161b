/**
 * Event ingestion: the one implementation of "submit events" behind gRPC (src/grpc) and HTTP
 * (src/http/events.ts). For each request, in this order, and before anything is written:
 *
 *   1. authenticate the producer (src/producers/registry.ts), and take the request's events from
 *      its rate limit and daily quota (src/producers/limits.ts);
 *   2. decode every event, check it is canonical and valid (encoding.ts, validate.ts), and that
 *      the producer may write its tenant and type;
 *   3. verify the producer's batch signature, once for the whole request (signature.ts);
 *   4. split off resubmissions by (tenant, producer, producer_event_id) (idempotency.ts);
 *   5. build the leaves (leaf.ts: the event bytes plus the receive time and the producer) and
 *      append the new ones in one submission to the sequencer, with their search index terms
 *      (src/query/terms.ts), computed here from the events already decoded in step 2.
 *
 * The receive time (a leaf's integrated_at) never decreases in log order: it is taken as requests
 * are handed to the sequencer, one at a time and in order (#drain), as the later of the clock and
 * the last one given (docs/search.md).
 *
 * A request is all or nothing: any rejected event rejects the request, and the error names it
 * ("events[3].actor.id is required"). Every acknowledgement of a response is proved against the
 * same checkpoint.
 */
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import { create } from '@bufbuild/protobuf';
import { CandorError, invalid } from '@candor/core/errors';
import type { Hasher } from '@candor/core/hash';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod, type EventAck } from '@candor/schema/gen/candor/v1/log_service_pb';
import type { LogMetrics } from '../log/metrics.js';
import type { Ack } from '../log/sequencer.js';
import { MAX_ENTRIES_PAGE, type LogService } from '../log/service.js';
import { ProducerRegistry, type AuthenticatedProducer, type Credentials } from '../producers/registry.js';
import type { ProducerLimiter } from '../producers/limits.js';
import { decodeEvent, encodeEvent, type Digest } from '@candor/schema/encoding';
import { idempotencyKey, type IdempotencyIndex, type IndexedEvent, type RecordedEvent } from './idempotency.js';
import { MAX_SIGNED_BATCH, encodeEventLeaf, isEventLeaf, parseEventLeaf } from '@candor/schema/leaf';
import { EventTree, batchStatement } from '@candor/schema/signature';
import { eventTerms } from '../query/terms.js';
import type { EntryTerms } from '../storage/store.js';
import { equal } from '@candor/core/bytes';
import { nodeDigest, nodeHasher } from '../crypto/node.js';

/** The most events one request may carry. */
export const MAX_EVENTS_PER_REQUEST = MAX_SIGNED_BATCH;

/**
 * Events accepted but not yet written to the idempotency index, at most (EventIngestOptions
 * .maxPending): waiting for the index read, queued for the sequencer, committing, or committed
 * and waiting for their index write. Normally a few thousand; a stalled index read or write would
 * let them pile up, so past this bound requests are refused with a retryable error until the index catches up.
 */
export const MAX_PENDING_EVENTS = 262_144;

export interface SubmitEventsInput {
  requestId?: bigint;
  /** Canonical encodings (as signed). */
  events: readonly Uint8Array[];
  /** Or messages, which the log encodes canonically. */
  eventMessages: readonly Event[];
  signature?: { keyId: number; signature: Uint8Array } | undefined;
}

export interface SubmitEventsResult {
  requestId: bigint;
  checkpoint: string;
  producer: string;
  authMethod: AuthMethod;
  acks: EventAck[];
}

/** Where a committed leaf is, and the checkpoint it was first proved against. */
interface Logged {
  index: number;
  leaf: Uint8Array;
  receivedAt: bigint;
  size: number;
  checkpoint: string;
  leafHash: Uint8Array;
  proof: Uint8Array[];
}

/**
 * An event submitted and not yet indexed: resubmissions wait on it. One promise per request (for
 * all its new events, in order), not one per event: `at` is the event's place among them.
 */
interface Pending {
  eventHash: Uint8Array;
  logged: Promise<readonly Logged[]>;
  at: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * The receive time: wall-clock time (the NTP-disciplined clock PCI DSS 10.6 asks for), not the
 * monotonic one, which drifts from it over a long uptime. Millisecond resolution, in nanoseconds.
 */
function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function timestampFromNs(ns: bigint): Timestamp {
  return { $typeName: 'google.protobuf.Timestamp', seconds: ns / 1_000_000_000n, nanos: Number(ns % 1_000_000_000n) };
}

const NO_BYTES = new Uint8Array(0);

export interface EventIngestOptions {
  service: LogService;
  registry: ProducerRegistry;
  index: IdempotencyIndex;
  /** RFC 9162 hasher for batch trees; default node:crypto's. */
  hasher?: Hasher;
  /** SHA-256 for event hashes; default node:crypto's. */
  digest?: Digest;
  metrics?: LogMetrics;
  /** Per-producer rate limits and quotas; none when absent. */
  limiter?: ProducerLimiter;
  /** The receive-time clock, in nanoseconds since the epoch. */
  now?: () => bigint;
  /** Compute search index terms for the store (config `indexes`); default true. */
  indexes?: boolean;
  /** Events accepted but not yet in the idempotency index, at most; default MAX_PENDING_EVENTS. */
  maxPending?: number;
}

/** Each event of a request, once checked. */
interface Checked {
  encoded: Uint8Array;
  /** The decoded event (for its index terms). */
  event: Event;
  eventHash: Uint8Array;
  key: string;
  /** For an event whose key appeared earlier in the same request: that event's position. */
  sameAs?: number;
}

interface CheckedRequest {
  /** "events" or "event_messages", for error messages. */
  field: string;
  events: Checked[];
  /** The batch tree, when the request is signed. */
  tree: EventTree | undefined;
}

type Earlier = Map<number, { kind: 'pending'; logged: Promise<readonly Logged[]>; at: number } | { kind: 'logged'; index: number }>;

/** A request checked and sequenced: its new events handed to the sequencer, its resubmissions found. */
interface Sequenced {
  receivedAt: bigint;
  /** The positions of the request's new events, in log order, and their leaves. */
  fresh: number[];
  leaves: Uint8Array[];
  /** Settles with the new events' places in the log (in `fresh` order), for resubmissions waiting on them. */
  done: Deferred<readonly Logged[]>;
  earlier: Earlier;
  submitted: Promise<Ack[]>;
  token: number;
}

/** A request waiting to be sequenced (#drain). */
interface Turn {
  request: CheckedRequest;
  leafOf: (i: number, receivedAt: bigint) => Uint8Array;
  done: Deferred<Sequenced>;
}

interface Plan {
  turn: Turn;
  earlier: Earlier;
  /** Events whose keys are neither pending nor repeated in the request: read from the index. */
  toLookUp: number[];
}

function conflict(field: string, i: number): CandorError {
  return new CandorError(
    'conflict',
    `${field}[${i}]: another event was already logged with this tenant_id, producer and producer_event_id; resubmit the same event bytes, or use a new producer_event_id`,
  );
}

export class EventIngest {
  readonly #o: EventIngestOptions & { hasher: Hasher; digest: Digest };
  readonly #now: () => bigint;
  readonly #pending = new Map<string, Pending>();
  /** Requests waiting for the idempotency check and the hand-off to the sequencer (see #drain). */
  readonly #turns: Turn[] = [];
  /** Events of the requests in #turns or in the index read of #drain: accepted, not yet pending. */
  #sequencing = 0;
  #draining = false;
  /** The last receive time handed out (undefined until read from the log, in #drain). */
  #lastReceivedAt: bigint | undefined;

  constructor(opts: EventIngestOptions) {
    this.#o = { ...opts, hasher: opts.hasher ?? nodeHasher, digest: opts.digest ?? nodeDigest };
    this.#now = opts.now ?? nowNs;
  }

  get registry(): ProducerRegistry {
    return this.#o.registry;
  }

  /**
   * Authenticates, and checks that the producer may send anything now, before a transport reads
   * or decodes a request body: an unknown or rate-limited caller costs no parsing. A refusal is
   * counted like any other.
   */
  preflight(credentials: Credentials): void {
    let auth: AuthenticatedProducer;
    try {
      auth = this.#o.registry.authenticate(credentials);
    } catch (err) {
      this.#o.metrics?.eventsRejected.inc({ reason: (err as CandorError).code ?? 'internal', producer: '-' });
      throw err;
    }
    try {
      this.#o.limiter?.take(auth.producer.record, 0);
    } catch (err) {
      this.#o.metrics?.eventsRejected.inc({ reason: (err as CandorError).code, producer: auth.producer.id });
      throw err;
    }
  }

  /** Submits a request's events on behalf of whoever the credentials authenticate. */
  submit(credentials: Credentials, input: SubmitEventsInput): Promise<SubmitEventsResult> {
    return this.start(credentials, input).result;
  }

  /**
   * Submits in two steps, for streams: `sequenced` settles once the request is checked and handed
   * to the sequencer (or rejected, having written nothing), `result` once it is committed. A
   * stream starts its next request after `sequenced`, so requests are logged in stream order and
   * none after a rejected one is touched.
   */
  start(credentials: Credentials, input: SubmitEventsInput): { sequenced: Promise<void>; result: Promise<SubmitEventsResult> } {
    const sequenced = deferred<void>();
    const result = this.#submit(credentials, input, sequenced);
    result.catch((err: unknown) => sequenced.reject(err));
    return { sequenced: sequenced.promise, result };
  }

  async #submit(credentials: Credentials, input: SubmitEventsInput, sequenced: Deferred<void>): Promise<SubmitEventsResult> {
    const count = input.events.length + input.eventMessages.length;
    let auth: AuthenticatedProducer;
    try {
      auth = this.#o.registry.authenticate(credentials);
    } catch (err) {
      this.#o.metrics?.eventsRejected.inc({ reason: (err as CandorError).code ?? 'internal', producer: '-' }, Math.max(count, 1));
      throw err;
    }
    let taken = false;
    try {
      this.#checkBacklog(count);
      // Before any event is decoded: the count is known from the request's framing.
      this.#o.limiter?.take(auth.producer.record, count);
      taken = true;
      const checked = this.#check(auth, input);
      return await this.#log(auth, input, checked, sequenced);
    } catch (err) {
      const code = err instanceof CandorError ? err.code : 'internal';
      this.#o.metrics?.eventsRejected.inc({ reason: code, producer: auth.producer.id }, Math.max(count, 1));
      // A refused request does not count against the quota (its rate-limit tokens stay spent:
      // refusing it cost the log work too).
      if (taken) this.#o.limiter?.refund(auth.producer.id, count);
      throw err;
    }
  }

  /** Refuses a request while too many accepted events wait for their idempotency index write. */
  #checkBacklog(count: number): void {
    const waiting = this.#sequencing + this.#pending.size;
    const max = this.#o.maxPending ?? MAX_PENDING_EVENTS;
    if (waiting > 0 && waiting + count > max) {
      throw new CandorError(
        'resource_exhausted',
        `${waiting} accepted events are still waiting for their idempotency index write (the limit is ${max}); retry later`,
        { retryAfterMs: 1000 },
      );
    }
  }

  /** Steps 2 and 3: every check that needs no I/O. */
  #check(auth: AuthenticatedProducer, input: SubmitEventsInput): CheckedRequest {
    const { producer } = auth;
    if (input.events.length > 0 && input.eventMessages.length > 0) throw invalid('give events or event_messages, not both');
    const field = input.events.length > 0 ? 'events' : 'event_messages';
    const n = input.events.length + input.eventMessages.length;
    if (n === 0) throw invalid('events is empty: send at least one event');
    if (n > MAX_EVENTS_PER_REQUEST) throw invalid(`${field} has ${n} events; the limit per request is ${MAX_EVENTS_PER_REQUEST}`);
    const out: Checked[] = new Array(n);
    const firstByKey = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const path = `${field}[${i}]`;
      const encoded = input.events.length > 0 ? input.events[i]! : encodeEvent(create(EventSchema, input.eventMessages[i]!));
      const ev = decodeEvent(encoded, path);
      if (ev.producer?.id && ev.producer.id !== producer.id) {
        throw new CandorError('permission_denied', `${path}.producer.id is ${JSON.stringify(ev.producer.id)}, but the request is authenticated as ${producer.id}`);
      }
      ProducerRegistry.authorize(producer, ev.tenantId, ev.type, path);
      const c: Checked = { encoded, event: ev, eventHash: this.#o.digest(encoded), key: idempotencyKey(ev.tenantId, producer.id, ev.producerEventId) };
      const first = firstByKey.get(c.key);
      if (first !== undefined) {
        if (!equal(out[first]!.eventHash, c.eventHash)) {
          throw new CandorError('conflict', `${path}.producer_event_id ${JSON.stringify(ev.producerEventId)} is also used by ${field}[${first}], for a different event`);
        }
        c.sameAs = first;
      } else {
        firstByKey.set(c.key, i);
      }
      out[i] = c;
    }
    return { field, events: out, tree: this.#verifySignature(auth, input, out) };
  }

  /** The batch tree the signature was verified with (its paths go into the leaves), if signed. */
  #verifySignature(auth: AuthenticatedProducer, input: SubmitEventsInput, checked: readonly Checked[]): EventTree | undefined {
    const { producer } = auth;
    const sig = input.signature;
    if (!sig || sig.signature.length === 0) {
      if (producer.signatureRequired) throw invalid(`signature is required: producer ${producer.id} has registered keys, so its events must be signed`);
      return undefined;
    }
    if (!producer.signatureRequired) {
      throw invalid(`signature: producer ${producer.id} has no registered key to verify it with (register one with "candor producer key add")`);
    }
    const verifier = producer.verifiers.get(sig.keyId >>> 0);
    const kid = (sig.keyId >>> 0).toString(16).padStart(8, '0');
    if (!verifier) throw new CandorError('verification_failed', `signature.key_id ${kid} is not a registered key of producer ${producer.id}`);
    if (sig.signature.length !== 64) throw invalid(`signature.signature must be 64 bytes, got ${sig.signature.length}`);
    const tree = new EventTree(this.#o.hasher, checked.map((c) => c.eventHash));
    if (!verifier.verify(batchStatement(checked.length, tree.root()), sig.signature)) {
      throw new CandorError('verification_failed', `signature does not verify with key ${producer.id}+${kid} over the ${checked.length} events of the request (docs/leaf-format.md §Producer signatures)`);
    }
    return tree;
  }

  /** Steps 4 and 5, and the response. */
  async #log(auth: AuthenticatedProducer, input: SubmitEventsInput, request: CheckedRequest, sequenced: Deferred<void>): Promise<SubmitEventsResult> {
    const { service, metrics } = this.#o;
    const producer = auth.producer.id;
    const { events: checked, tree } = request;
    const sig = tree ? input.signature! : undefined;
    const leafOf = (i: number, receivedAt: bigint): Uint8Array =>
      encodeEventLeaf(
        sig && tree
          ? {
              receivedAt,
              authMethod: auth.method,
              producer,
              event: checked[i]!.encoded,
              signature: { keyId: sig.keyId >>> 0, signature: sig.signature, batchSize: checked.length, batchIndex: i, path: tree.path(i) },
            }
          : { receivedAt, authMethod: auth.method, producer, event: checked[i]!.encoded },
      );

    const { fresh, leaves, done, earlier, submitted, token, receivedAt } = await this.#sequence(request, leafOf);
    sequenced.resolve();
    let acks: Ack[];
    try {
      acks = await submitted;
    } catch (err) {
      const code = (err as CandorError).code;
      // Resubmissions waiting on these events get the same error, and may retry.
      done.reject(err);
      for (const i of fresh) this.#pending.delete(checked[i]!.key);
      // A commit that failed may have landed anyway: hold the index watermark below it so the
      // next start replays it. Rejections before sequencing wrote nothing.
      if (code !== 'unavailable') this.#o.index.end(token);
      throw err;
    }

    // The new leaves are durable. Answer resubmissions waiting on them, then index them. The
    // Logged records are shared with those waiters: never changed once made.
    const logged: (Logged | undefined)[] = new Array(checked.length);
    const isNew = new Uint8Array(checked.length);
    const mine: Logged[] = new Array(fresh.length);
    const items: RecordedEvent[] = new Array(fresh.length);
    for (let j = 0; j < fresh.length; j++) {
      const i = fresh[j]!;
      const a = acks[j]!;
      const l: Logged = { index: a.index, leaf: leaves[j]!, receivedAt, size: a.size, checkpoint: a.checkpoint, leafHash: a.leafHash, proof: a.inclusionProof };
      logged[i] = mine[j] = l;
      isNew[i] = 1;
      items[j] = { key: checked[i]!.key, index: a.index, eventHash: checked[i]!.eventHash };
    }
    done.resolve(mine);
    if (fresh.length > 0) {
      const forget = (): void => {
        for (const i of fresh) this.#pending.delete(checked[i]!.key);
      };
      this.#o.index.record(items).then(
        () => {
          forget();
          this.#o.index.end(token);
        },
        // The index write failed; the watermark stays put and the next start replays.
        forget,
      );
    } else {
      this.#o.index.end(token);
    }

    // Resubmissions: their first leaves, from this request, from one in flight, or from the log
    // (read in runs of consecutive indexes: a retried batch's leaves are usually together).
    const fromLog: { i: number; index: number }[] = [];
    for (const [i, e] of earlier) {
      if (e.kind === 'pending') logged[i] = (await e.logged)[e.at]!;
      else fromLog.push({ i, index: e.index });
    }
    if (fromLog.length > 0) {
      const leaves = await readLeaves(service, fromLog.map((x) => x.index));
      for (const { i, index } of fromLog) {
        const leaf = leaves.get(index)!;
        logged[i] = { index, leaf, receivedAt: parseEventLeaf(leaf).receivedAt, size: -1, checkpoint: '', leafHash: NO_BYTES, proof: [] };
      }
    }

    // One checkpoint for the whole response: the newest any answer needs.
    let checkpoint = '';
    let size = -1;
    for (const l of logged) {
      if (l !== undefined && l.size > size) {
        size = l.size;
        checkpoint = l.checkpoint;
      }
    }
    if (size < 0) {
      size = service.size;
      checkpoint = service.latestCheckpoint();
    }
    // Leaves not proved at that size yet (resubmissions, or this request's leaves when a
    // resubmission committed later) are proved again, concurrently.
    const again: Promise<void>[] = [];
    for (let i = 0; i < logged.length; i++) {
      const l = logged[i];
      if (l === undefined || l.size === size) continue;
      again.push(
        service.inclusionProof({ index: l.index, size }).then((p) => {
          logged[i] = { ...l, leafHash: p.leafHash, proof: p.proof, size };
        }),
      );
    }
    if (again.length > 0) await Promise.all(again);
    // Messages built directly (not with create()): a response can hold 4,096 of them.
    // The new events' receive time and the tree size are the same for all: one of each is shared.
    const answers: EventAck[] = new Array(checked.length);
    const treeSize = BigInt(size);
    const received = timestampFromNs(receivedAt);
    let duplicates = 0;
    for (let i = 0; i < checked.length; i++) {
      const first = checked[i]!.sameAs ?? i;
      const l = logged[first]!;
      const duplicate = i !== first || isNew[i] === 0;
      if (duplicate) duplicates++;
      answers[i] = {
        $typeName: 'candor.v1.EventAck',
        index: BigInt(l.index),
        leafHash: l.leafHash,
        treeSize,
        inclusionProof: l.proof,
        duplicate,
        receivedAt: l.receivedAt === receivedAt ? received : timestampFromNs(l.receivedAt),
        leaf: duplicate ? l.leaf : NO_BYTES,
      };
    }
    metrics?.eventsIngested.inc({ producer }, fresh.length);
    if (duplicates > 0) metrics?.eventsDuplicate.inc({ producer }, duplicates);
    return { requestId: input.requestId ?? 0n, checkpoint, producer, authMethod: auth.method, acks: answers };
  }

  /**
   * Queues the request for #drain, which splits it into new events and resubmissions and hands
   * the new ones to the sequencer.
   */
  #sequence(request: CheckedRequest, leafOf: (i: number, receivedAt: bigint) => Uint8Array): Promise<Sequenced> {
    const done = deferred<Sequenced>();
    this.#turns.push({ request, leafOf, done });
    this.#sequencing += request.events.length;
    if (!this.#draining) void this.#drain();
    return done.promise;
  }

  /**
   * Sequences the waiting requests in arrival order, a group at a time: whatever queued while the
   * previous group's index read ran is looked up with one read (one trip to the thread pool, not
   * one per request in turn). Serialised: a group is looked up only after every earlier request
   * has registered its new keys as pending, and a pending key is dropped only once its index
   * entry is written, so two requests can never both find a key new. Keys are checked against
   * the pending ones before the read (one dropped during it is in the index by then), and again
   * at hand-off, for keys an earlier request of the same group made pending.
   */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#turns.length > 0) {
        const group = this.#turns.splice(0);
        const settled = (): void => {
          for (const t of group) this.#sequencing -= t.request.events.length;
        };
        const plans: Plan[] = [];
        for (const turn of group) {
          try {
            plans.push(this.#plan(turn));
          } catch (err) {
            turn.done.reject(err);
          }
        }
        let found: (IndexedEvent | undefined)[];
        try {
          found = await this.#o.index.lookup(plans.flatMap((p) => p.toLookUp.map((i) => p.turn.request.events[i]!.key)));
          this.#lastReceivedAt ??= await lastReceivedAt(this.#o.service);
        } catch (err) {
          settled();
          for (const p of plans) p.turn.done.reject(err);
          continue;
        }
        settled();
        // Synchronous from here to the next read: nothing else touches the pending keys meanwhile.
        let at = 0;
        for (const p of plans) {
          const mine = found.slice(at, (at += p.toLookUp.length));
          try {
            p.turn.done.resolve(this.#handOff(p, mine));
          } catch (err) {
            p.turn.done.reject(err);
          }
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /** A request's resubmissions of events still pending, and the keys to look up in the index. */
  #plan(turn: Turn): Plan {
    const { events: checked, field } = turn.request;
    const earlier: Earlier = new Map();
    const toLookUp: number[] = [];
    for (let i = 0; i < checked.length; i++) {
      const c = checked[i]!;
      if (c.sameAs !== undefined) continue;
      const p = this.#pending.get(c.key);
      if (p) {
        if (!equal(p.eventHash, c.eventHash)) throw conflict(field, i);
        earlier.set(i, { kind: 'pending', logged: p.logged, at: p.at });
      } else {
        toLookUp.push(i);
      }
    }
    return { turn, earlier, toLookUp };
  }

  /** With the index's answers for its keys: the request's new events go to the sequencer. */
  #handOff({ turn, earlier, toLookUp }: Plan, found: readonly (IndexedEvent | undefined)[]): Sequenced {
    const { request, leafOf } = turn;
    const { events: checked, field } = request;
    const fresh: number[] = [];
    for (let k = 0; k < toLookUp.length; k++) {
      const i = toLookUp[k]!;
      const c = checked[i]!;
      const p = this.#pending.get(c.key);
      const f = found[k];
      if (p) {
        if (!equal(p.eventHash, c.eventHash)) throw conflict(field, i);
        earlier.set(i, { kind: 'pending', logged: p.logged, at: p.at });
      } else if (f === undefined) {
        fresh.push(i);
      } else if (!equal(f.eventHash, c.eventHash)) {
        throw conflict(field, i);
      } else {
        earlier.set(i, { kind: 'logged', index: f.index });
      }
    }
    const receivedAt = this.#receiveTime();
    const leaves: Uint8Array[] = new Array(fresh.length);
    const terms: EntryTerms[] | undefined = this.#o.indexes === false ? undefined : new Array(fresh.length);
    const done = deferred<readonly Logged[]>();
    for (let j = 0; j < fresh.length; j++) {
      const i = fresh[j]!;
      const c = checked[i]!;
      leaves[j] = leafOf(i, receivedAt);
      if (terms) terms[j] = eventTerms(c.event, receivedAt);
      this.#pending.set(c.key, { eventHash: c.eventHash, logged: done.promise, at: j });
    }
    const token = this.#o.index.begin(this.#o.service.size);
    // Unique: every new leaf passed the idempotency check above and holds its receive time.
    const submitted = leaves.length > 0 ? this.#o.service.addMany(leaves, terms, { unique: true }) : Promise.resolve([]);
    return { fresh, leaves, done, earlier, submitted, token, receivedAt };
  }

  /**
   * The receive time of the next request: the clock, or the last time given when the clock is
   * behind it (stepped back, or a restart on a slower clock), so that integrated_at never
   * decreases in log order. Called in #drain's hand-offs, after it read the last time given.
   */
  #receiveTime(): bigint {
    const now = this.#now();
    if (now > this.#lastReceivedAt!) this.#lastReceivedAt = now;
    return this.#lastReceivedAt!;
  }
}

/** The receive time of the log's last event leaf (0 if it has none), reading back a page at a time. */
async function lastReceivedAt(service: LogService): Promise<bigint> {
  for (let end = service.size; end > 0; end -= MAX_ENTRIES_PAGE) {
    const page = await service.entries({ start: Math.max(0, end - MAX_ENTRIES_PAGE), end });
    for (let k = page.length - 1; k >= 0; k--) if (isEventLeaf(page[k]!.data)) return parseEventLeaf(page[k]!.data).receivedAt;
  }
  return 0n;
}

/** The leaves at `indexes`, read in runs of consecutive indexes (at most a page per read). */
async function readLeaves(service: LogService, indexes: readonly number[]): Promise<Map<number, Uint8Array>> {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const out = new Map<number, Uint8Array>();
  for (let k = 0; k < sorted.length; ) {
    let end = k + 1;
    while (end < sorted.length && sorted[end] === sorted[end - 1]! + 1 && end - k < MAX_ENTRIES_PAGE) end++;
    for (const e of await service.entries({ start: sorted[k]!, end: sorted[end - 1]! + 1 })) out.set(e.index, e.data);
    k = end;
  }
  return out;
}
