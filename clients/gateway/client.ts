/**
 * The gateway SDK: what an access gateway links to record audit events in a Candor log.
 *
 *   const gw = new GatewayClient({ address: 'log:8081', token, producer: 'gw-1', tenant: 'org-1', logKey });
 *   const { receipt, openings } = await gw.session.started({ sessionId: 's1', verb: SessionVerb.CONNECT, actor: { id: 'u1' }, ... });
 *   await gw.close();
 *
 * - Events are validated here with the log's own rules (src/schema/validate.ts) and encoded
 *   canonically once; those bytes are what is signed, sent, logged and hashed.
 * - Sensitive fields become salted commitments (events.ts); the openings go back to the caller.
 * - Events are batched (up to `maxEvents`, or after `lingerMs`), several batches in flight; the
 *   buffer is bounded and `record` waits for room (backpressure) instead of growing it.
 * - A batch is signed once with the producer's key (one Ed25519 signature per batch).
 * - Retries are safe: a batch is resent byte for byte and the log answers events it already has
 *   with their first receipt. UNAVAILABLE and RESOURCE_EXHAUSTED (a full queue, a rate limit) are retried with exponential
 *   backoff and full jitter, never sooner than the server's grpc-retry-pushback-ms.
 * - Every acknowledgement is verified before `record` resolves: the checkpoint's signature with
 *   the log's key, the leaf rebuilt from the bytes sent, its inclusion proof (receipt.ts).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { CandorError } from '@candor/core/errors';
import { portableHasher, type Hasher } from '@candor/core/hash';
import type { Checkpoint } from '@candor/core/checkpoint';
import { CompactRange, verifyConsistency } from '@candor/core/merkle';
import { parseSignerKey, portableEd25519, type Ed25519, type NoteSigner } from '@candor/core/note';
import type { Opening } from '@candor/schema/commitment';
import { eventHash, portableDigest, type Digest, type EventInit } from '@candor/schema/encoding';
import { EventTree, batchStatement } from '@candor/schema/signature';
import { validateEvent } from '@candor/schema/validate';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import type { SubmitBatchRequest, SubmitBatchResponse } from '@candor/schema/gen/candor/v1/log_service_pb';
import { SubmitBatchRequestSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import * as B from './events.js';
import { CheckpointVerifier, checkAcks, type Receipt } from './receipt.js';
import { GrpcTransport, type TransportOptions } from './transport.js';

export interface Recorded {
  receipt: Receipt;
  /** The event as logged (decoded from eventBytes when first read). */
  readonly event: Event;
  /** The canonical encoding that was signed and logged. */
  eventBytes: Uint8Array;
  /** Openings of the event's commitments: keep them (encrypted) to disclose a field later. */
  openings: Opening[];
}

export interface BatchOptions {
  /** Events per request (and per signature). Default 256. */
  maxEvents?: number;
  /** How long a partial batch waits for more events. Default 5 ms. */
  lingerMs?: number;
  /** Events queued or in flight before `record` waits. Default 10,000. */
  maxBuffered?: number;
  /** Requests in flight at once. Default 4; 1 keeps the log's order equal to record order. */
  maxInFlight?: number;
}

export interface RetryOptions {
  /** First backoff ceiling. Default 50 ms. */
  initialMs?: number;
  /** Largest backoff ceiling. Default 5 s. */
  maxMs?: number;
  /** Stop retrying a batch after this long and reject its events. Default 2 minutes. */
  giveUpAfterMs?: number;
}

export interface GatewayOptions extends TransportOptions {
  /** The log's verifier key(s): the lines of its log.vkey. */
  logKey: string | readonly string[];
  /** The log's origin, if it is not the key's name. */
  origin?: string;
  /** The producer ID this gateway is registered as; every receipt must name it. */
  producer: string;
  /** Tenant for events that do not name one. */
  tenant?: string;
  /** The producer's signer key (PRIVATE+KEY+<producer>+...), if it has a registered key. */
  signerKey?: string;
  /** Recorded in each event's envelope (ProducerInfo). */
  producerInfo?: { kind?: string; version?: string; instance?: string };
  batch?: BatchOptions;
  retry?: RetryOptions;
  /** Crypto for signing, verifying checkpoints and hashing; default the portable ones (noble). */
  ed25519?: Ed25519;
  hasher?: Hasher;
  /** SHA-256 for event hashes (session digests, batch signatures). */
  digest?: Digest;
  /** Replaces the gRPC transport (tests). */
  transport?: {
    /** `checkpoint`: the last checkpoint note this client accepted, sent with the request (docs/fencing.md). */
    submitBatch(req: SubmitBatchRequest, opts?: { checkpoint?: string }): Promise<SubmitBatchResponse>;
    /**
     * Proves the log consistent between two sizes. Without it (a custom transport), each receipt is
     * still verified alone, but a log showing this client a forked or rolled-back view is not caught.
     */
    getConsistencyProof?(req: { fromSize: bigint; toSize: bigint }): Promise<{ proof: Uint8Array[] }>;
    close(): void;
  };
}

/**
 * An event queued or in flight. It keeps the event's bytes, not its message: thousands are in
 * flight under load, and each message is a dozen objects that the young-generation GC would copy
 * until the answer comes (measured: about 3 µs per event of scavenging in bench/grpc.ts).
 */
interface Item {
  bytes: Uint8Array;
  openings: Opening[];
  /** performance.now() when it was queued: it goes out, in a partial batch if need be, lingerMs later. */
  queuedAt: number;
  resolve(r: Recorded): void;
  reject(e: unknown): void;
}

interface SessionState {
  range: CompactRange;
  count: number;
  statements: number;
  denied: number;
  seq: number;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID: 48 bits of milliseconds and 80 random bits, Crockford base32; sorts by time. */
export function ulid(now = Date.now()): string {
  let out = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  const r = randomBytes16();
  for (let i = 0; i < 16; i++) out += CROCKFORD[r[i]! % 32];
  return out;
}

/** Random bytes for ULIDs, drawn 4 KiB at a time: one getRandomValues call (~2 µs) per 256 IDs, not per event. */
const pool = new Uint8Array(4096);
let poolAt = pool.length;

function randomBytes16(): Uint8Array {
  if (poolAt === pool.length) {
    globalThis.crypto.getRandomValues(pool);
    poolAt = 0;
  }
  return pool.subarray(poolAt, (poolAt += 16));
}

/** The result of `record`: its event is decoded from the logged bytes when first read. */
function recorded(receipt: Receipt, eventBytes: Uint8Array, openings: Opening[]): Recorded {
  let event: Event | undefined;
  return {
    receipt,
    eventBytes,
    openings,
    get event() {
      return (event ??= fromBinary(EventSchema, eventBytes));
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kept to bound memory: sessions never ended and reviews never executed are forgotten first. */
const MAX_TRACKED = 100_000;

export class GatewayClient {
  readonly producer: string;
  readonly #transport: NonNullable<GatewayOptions['transport']>;
  readonly #checkpoints: CheckpointVerifier;
  readonly #signer: NoteSigner | undefined;
  readonly #hasher: Hasher;
  readonly #digest: Digest;
  readonly #tenant: string | undefined;
  readonly #info: GatewayOptions['producerInfo'];
  readonly #batch: Required<BatchOptions>;
  readonly #retry: Required<RetryOptions>;
  #queue: Item[] = [];
  #buffered = 0;
  #inflight = 0;
  #requestId = 0n;
  #timer: NodeJS.Timeout | undefined;
  #spaceWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  readonly #sessions = new Map<string, SessionState>();
  readonly #reviewStatements = new Map<string, Uint8Array>();
  /** The newest checkpoint accepted: every later one must be consistent with it. */
  #accepted: { note: string; cp: Checkpoint } | undefined;
  /** Views are accepted one at a time (answers to batches in flight arrive in any order). */
  #advancing: Promise<void> = Promise.resolve();

  constructor(o: GatewayOptions) {
    this.producer = o.producer;
    this.#transport = o.transport ?? new GrpcTransport(o);
    this.#checkpoints = new CheckpointVerifier(typeof o.logKey === 'string' ? [o.logKey] : o.logKey, o.origin, o.ed25519);
    this.#hasher = o.hasher ?? portableHasher;
    this.#digest = o.digest ?? portableDigest;
    if (o.signerKey) {
      const k = parseSignerKey(o.signerKey, { crypto: o.ed25519 ?? portableEd25519 });
      if (k.signer.name !== o.producer) throw new CandorError('invalid_argument', `signerKey is ${k.signer.name}'s; the producer is ${o.producer}`);
      this.#signer = k.signer;
    }
    this.#tenant = o.tenant;
    this.#info = o.producerInfo;
    this.#batch = { maxEvents: 256, lingerMs: 5, maxBuffered: 10_000, maxInFlight: 4, ...o.batch };
    this.#retry = { initialMs: 50, maxMs: 5000, giveUpAfterMs: 120_000, ...o.retry };
    if (this.#batch.maxEvents < 1 || this.#batch.maxEvents > 4096) throw new CandorError('invalid_argument', 'batch.maxEvents must be 1 to 4096');
  }

  /** Events queued or in flight. */
  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Records any event (the typed helpers below build them). Resolves with the verified receipt
   * once the event is durable in the log; rejects if it is invalid, refused, or cannot be logged
   * within the retry budget.
   */
  async record(init: EventInit, openings: Opening[] = []): Promise<Recorded> {
    if (this.#closed) throw new CandorError('unavailable', 'the gateway client is closed');
    // A copy without $typeName, so create() builds nested messages from plain values too.
    const { $typeName: _, ...full } = init as EventInit & { $typeName?: string };
    full.eventId ||= ulid();
    full.producerEventId ||= full.eventId;
    full.occurredAt ??= timestampFromDate(new Date());
    full.tenantId ||= this.#tenant;
    if (!full.tenantId) throw new CandorError('invalid_argument', 'event.tenant_id is required (or give the client a default tenant)');
    full.producer = { id: this.producer, ...this.#info, ...full.producer };
    const session = full.sessionId ? this.#session(full.sessionId) : undefined;
    if (session && (full.seq === undefined || full.seq === 0n)) full.seq = BigInt(session.seq + 1);
    const event = create(EventSchema, full as EventInit);
    validateEvent(event);
    const bytes = toBinary(EventSchema, event);
    if (session) {
      // session.ended's digest covers the session's events recorded before it, in seq order.
      session.seq = Number(event.seq);
      if (event.type !== 'session.ended') {
        session.range.append(this.#hasher.leaf(eventHash(bytes, this.#digest)));
        session.count++;
        if (event.type === 'query.executed') session.statements++;
        if (event.type === 'query.denied') session.denied++;
      }
    }
    while (this.#buffered >= this.#batch.maxBuffered) await new Promise<void>((r) => this.#spaceWaiters.push(r));
    if (this.#closed) throw new CandorError('unavailable', 'the gateway client is closed');
    this.#buffered++;
    return new Promise<Recorded>((resolve, reject) => {
      this.#queue.push({ bytes, openings, queuedAt: performance.now(), resolve, reject });
      if (this.#queue.length >= this.#batch.maxEvents) this.#pump(false);
      else this.#arm();
    });
  }

  #session(id: string): SessionState {
    let s = this.#sessions.get(id);
    if (!s) {
      if (this.#sessions.size >= MAX_TRACKED) this.#sessions.delete(this.#sessions.keys().next().value!);
      s = { range: new CompactRange(this.#hasher), count: 0, statements: 0, denied: 0, seq: 0 };
      this.#sessions.set(id, s);
    }
    return s;
  }

  /**
   * Sends what is due while a request slot is free: full batches, and partial ones once the
   * oldest queued event has lingered lingerMs (`lingered`: its timer fired) or on a flush. An
   * event that lingered while every slot was busy goes out as soon as one frees.
   */
  #pump(lingered: boolean): void {
    const { maxEvents, maxInFlight, lingerMs } = this.#batch;
    while (this.#queue.length > 0 && this.#inflight < maxInFlight) {
      const due =
        lingered || this.#queue.length >= maxEvents || this.#idleWaiters.length > 0 || this.#closed || performance.now() - this.#queue[0]!.queuedAt >= lingerMs;
      if (!due) break;
      const batch = this.#queue.splice(0, maxEvents);
      this.#inflight++;
      void this.#send(batch).finally(() => {
        this.#inflight--;
        this.#buffered -= batch.length;
        for (const w of this.#spaceWaiters.splice(0, batch.length)) w();
        if (this.#buffered === 0) for (const w of this.#idleWaiters.splice(0)) w();
        this.#pump(false);
      });
    }
    this.#arm();
  }

  /** Wakes #pump when the oldest queued event's linger is up; with every slot busy, the next answer wakes it instead. */
  #arm(): void {
    if (this.#timer || this.#queue.length === 0 || this.#inflight >= this.#batch.maxInFlight) return;
    const wait = Math.max(0, this.#queue[0]!.queuedAt + this.#batch.lingerMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump(true);
    }, wait);
  }

  async #send(batch: Item[]): Promise<void> {
    const events = batch.map((i) => i.bytes);
    let tree: EventTree | undefined;
    let signature: { keyId: number; signature: Uint8Array } | undefined;
    if (this.#signer) {
      tree = new EventTree(this.#hasher, events.map((e) => eventHash(e, this.#digest)));
      signature = { keyId: this.#signer.keyId, signature: this.#signer.sign(batchStatement(events.length, tree.root())) };
    }
    const req = create(SubmitBatchRequestSchema, { requestId: ++this.#requestId, events, ...(signature ? { signature } : {}) });
    let res: SubmitBatchResponse;
    try {
      res = await this.#withRetries(() => this.#transport.submitBatch(req, this.#accepted ? { checkpoint: this.#accepted.note } : {}));
    } catch (err) {
      for (const i of batch) i.reject(err);
      return;
    }
    try {
      if (res.producer !== this.producer) throw new CandorError('verification_failed', `the log recorded producer ${res.producer}, not ${this.producer}`);
      const checkpoint = this.#checkpoints.verify(res.checkpoint);
      await this.#advance(res.checkpoint, checkpoint);
      const receipts = checkAcks(
        {
          acks: res.acks,
          checkpoint,
          note: res.checkpoint,
          producer: res.producer,
          authMethod: res.authMethod,
          events,
          ...(signature && tree ? { signature: (i: number) => ({ ...signature, batchSize: batch.length, batchIndex: i, path: tree.path(i) }) } : {}),
        },
        this.#hasher,
      );
      batch.forEach((item, i) => item.resolve(recorded(receipts[i]!, item.bytes, item.openings)));
    } catch (err) {
      // The log's answer does not verify: never retried, it is evidence of misbehaviour.
      for (const i of batch) i.reject(err);
    }
  }

  /** The newest checkpoint this client accepted from the log (undefined before the first receipt). */
  get checkpoint(): string | undefined {
    return this.#accepted?.note;
  }

  /**
   * Accepts `cp` as a view of the log if it is consistent with the newest view accepted: the same
   * root at the same size, else a consistency proof between the two sizes, asked of the log and
   * checked here. The newer view is kept. A log that showed this client one history and now shows
   * another (a rolled-back store, a fork) fails here with verification_failed.
   */
  #advance(note: string, cp: Checkpoint): Promise<void> {
    const step = this.#advancing.then(async () => {
      const old = this.#accepted;
      if (!old || old.note === note) {
        this.#accepted ??= { note, cp };
        return;
      }
      const [a, b] = cp.size < old.cp.size ? [cp, old.cp] : [old.cp, cp];
      try {
        // Every tree is consistent with the empty one.
        if (a.size === 0) return void (this.#accepted = { note, cp: b === cp ? cp : old.cp });
        if (a.size === b.size) verifyConsistency(this.#hasher, a.size, b.size, a.root, b.root, []);
        else if (this.#transport.getConsistencyProof) {
          const { proof } = await this.#withRetries(() => this.#transport.getConsistencyProof!({ fromSize: BigInt(a.size), toSize: BigInt(b.size) }));
          verifyConsistency(this.#hasher, a.size, b.size, a.root, b.root, proof);
        }
      } catch (err) {
        if (err instanceof CandorError && err.code !== 'verification_failed') throw err;
        throw new CandorError('verification_failed', `the log's checkpoint of size ${cp.size} is not consistent with the one of size ${old.cp.size} this client accepted before: ${(err as Error).message}`);
      }
      if (cp.size > old.cp.size) this.#accepted = { note, cp };
    });
    this.#advancing = step.catch(() => undefined);
    return step;
  }

  async #withRetries<T>(call: () => Promise<T>): Promise<T> {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        const e = err instanceof CandorError ? err : new CandorError('unavailable', (err as Error).message, { cause: err });
        // RESOURCE_EXHAUSTED without a pushback is gRPC's own "message too large": permanent. A
        // producer over its rate limit waits what the log asked (a spent daily quota outlasts the budget).
        const retryable = e.code === 'unavailable' || ((e.code === 'resource_exhausted' || e.code === 'rate_limited') && e.retryAfterMs !== undefined);
        const ceiling = Math.min(this.#retry.maxMs, this.#retry.initialMs * 2 ** attempt);
        const delay = Math.max(e.retryAfterMs ?? 0, Math.random() * ceiling);
        if (!retryable || Date.now() - started + delay > this.#retry.giveUpAfterMs) throw e;
        await sleep(delay);
      }
    }
  }

  /** Resolves once everything recorded so far is acknowledged (or has failed). */
  flush(): Promise<void> {
    if (this.#buffered === 0) return Promise.resolve();
    const idle = new Promise<void>((r) => this.#idleWaiters.push(r));
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pump(true);
    return idle;
  }

  /** Flushes, then closes the connection; `record` fails from now on. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    for (const w of this.#spaceWaiters.splice(0)) w();
    if (this.#timer) clearTimeout(this.#timer);
    this.#transport.close();
  }

  #d = (d: B.Draft) => this.record(d.init, d.openings);

  // ---- Typed helpers (events.ts builds them; the client fills what it tracks) ----

  readonly session = {
    started: (c: Parameters<typeof B.session.started>[0]) => this.#d(B.session.started(c)),
    denied: (c: Parameters<typeof B.session.denied>[0]) => this.#d(B.session.denied(c)),
    /** Fills statement_count, denied_count, event_count and stream_digest from the events recorded for the session. */
    ended: (c: Parameters<typeof B.session.ended>[0]) => {
      const s = this.#sessions.get(c.sessionId);
      this.#sessions.delete(c.sessionId);
      const tracked = s ? { statementCount: s.statements, deniedCount: s.denied, eventCount: s.count, streamDigest: s.range.root() } : {};
      const seq = s ? { seq: s.seq + 1 } : {};
      return this.#d(B.session.ended({ ...tracked, ...seq, ...c }));
    },
  };

  readonly statement = {
    executed: (c: Parameters<typeof B.statement.executed>[0]) => this.#d(B.statement.executed(c)),
    denied: (c: Parameters<typeof B.statement.denied>[0]) => this.#d(B.statement.denied(c)),
    failed: (c: Parameters<typeof B.statement.failed>[0]) => this.#d(B.statement.failed(c)),
  };

  readonly review = {
    /** Remembers the statement commitment, which the execution events then carry. */
    requested: (c: Parameters<typeof B.review.requested>[0]) => {
      const d = B.review.requested(c);
      const body = d.init.body as { value?: { statement?: { commitment?: Uint8Array } } };
      const commitment = body.value?.statement?.commitment;
      if (commitment && commitment.length > 0) {
        if (this.#reviewStatements.size >= MAX_TRACKED) this.#reviewStatements.delete(this.#reviewStatements.keys().next().value!);
        this.#reviewStatements.set(c.reviewId, commitment);
      }
      return this.#d(d);
    },
    voteCast: (c: Parameters<typeof B.review.voteCast>[0]) => this.#d(B.review.voteCast(c)),
    approved: (c: Parameters<typeof B.review.approved>[0]) => this.#d(B.review.approved(c)),
    autoApproved: (c: Parameters<typeof B.review.autoApproved>[0]) => this.#d(B.review.autoApproved(c)),
    forceApproved: (c: Parameters<typeof B.review.forceApproved>[0]) => this.#d(B.review.forceApproved(c)),
    rejected: (c: Parameters<typeof B.review.rejected>[0]) => this.#d(B.review.rejected(c)),
    cancelled: (c: Parameters<typeof B.review.cancelled>[0]) => this.#d(B.review.cancelled(c)),
    expired: (c: Parameters<typeof B.review.expired>[0]) => this.#d(B.review.expired(c)),
    revoked: (c: Parameters<typeof B.review.revoked>[0]) => this.#d(B.review.revoked(c)),
    executionStarted: (c: Parameters<typeof B.review.execution>[1]) => this.#d(B.review.execution('started', this.#withStatement(c))),
    executionCompleted: (c: Parameters<typeof B.review.execution>[1]) => {
      const d = B.review.execution('completed', this.#withStatement(c));
      this.#reviewStatements.delete(c.reviewId);
      return this.#d(d);
    },
    executionUnknown: (c: Parameters<typeof B.review.execution>[1]) => this.#d(B.review.execution('unknown', this.#withStatement(c))),
  };

  #withStatement<C extends { reviewId: string; statementCommitment?: Uint8Array }>(c: C): C {
    const known = this.#reviewStatements.get(c.reviewId);
    return c.statementCommitment || !known ? c : { ...c, statementCommitment: known };
  }

  readonly grant = {
    activated: (c: Parameters<typeof B.grant.change>[1]) => this.#d(B.grant.change('activated', c)),
    expired: (c: Parameters<typeof B.grant.change>[1]) => this.#d(B.grant.change('expired', c)),
    revoked: (c: Parameters<typeof B.grant.change>[1]) => this.#d(B.grant.change('revoked', c)),
  };

  readonly db = {
    privilegeGranted: (c: Parameters<typeof B.db.privilege>[1]) => this.#d(B.db.privilege('granted', c)),
    privilegeRevoked: (c: Parameters<typeof B.db.privilege>[1]) => this.#d(B.db.privilege('revoked', c)),
    roleGranted: (c: Parameters<typeof B.db.role>[1]) => this.#d(B.db.role('granted', c)),
    roleRevoked: (c: Parameters<typeof B.db.role>[1]) => this.#d(B.db.role('revoked', c)),
  };

  readonly column = {
    changed: (c: Parameters<typeof B.column.changed>[0]) => this.#d(B.column.changed(c)),
  };

  readonly producerEvents = {
    gap: (c: Parameters<typeof B.producer.gap>[0]) => this.#d(B.producer.gap({ actor: { id: this.producer, type: B.ActorType.SYSTEM }, ...c })),
    heartbeat: (c: Parameters<typeof B.producer.heartbeat>[0] = {}) => this.#d(B.producer.heartbeat({ actor: { id: this.producer, type: B.ActorType.SYSTEM }, ...c })),
  };
}
