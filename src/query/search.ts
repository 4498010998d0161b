/**
 * Search and live tail: the one implementation behind GET /v1/search, GET /v1/tail
 * (src/http/search.ts) and gRPC QueryService (src/grpc/query.ts). docs/search.md describes the
 * index layout, the ordering and the guarantees.
 *
 * A search is a leapfrog intersection of posting lists that are all in log-index order: each
 * list seeks to the current candidate index; when one lands further on, that becomes the new
 * candidate; when all agree, the candidate matches. The lists are cursors over posting blocks
 * (src/storage/level.ts) that read blocks in gulps and decode them into arrays, so the
 * intersection runs in memory and a seek costs store I/O only when it leaves what was read.
 * Bounded to an index window: the integrated_at range maps to one (integrated_at never
 * decreases in log order), a cursor narrows it, and a proof size caps it. occurred_at, which
 * producers set and which need not follow log order, filters the decoded events. A page examines
 * at most SCAN_BUDGET matches and reads at most READ_BUDGET index keys; past either it answers
 * with what it has and a cursor to go on.
 */
import { parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError, invalid } from '@candor/core/errors';
import { HASH_SIZE } from '@candor/core/hash';
import { isEventLeaf } from '@candor/schema/leaf';
import type { LogService } from '../log/service.js';
import type { Credentials } from '../producers/registry.js';
import { ENTRY_RUN, type LogStore, type PostingCursor, type SearchIndex } from '../storage/store.js';
import type { Authorize, Reader } from './access.js';
import type { AuditRecord, ReadAudit } from './audit.js';
import { FIELD, PER_TENANT, PER_TENANT_FIELDS, tenantValue, type TermField } from './terms.js';
import { timestampNs } from '@candor/core/time';
import { decodeLoggedEvent, type EventProof, type LoggedEvent } from './types.js';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/** Candidates one page may examine (matches of the index filters, read and post-filtered). */
export const SCAN_BUDGET = 10_000;
/** The longest filter value, in characters. */
export const MAX_VALUE_LENGTH = 1024;
/** How far (in entries) a live tail may fall behind the log before it is dropped. */
export const TAIL_MAX_LAG = 100_000;
/** Index keys (posting blocks) one page may read before it answers with what it has. */
export const READ_BUDGET = 100_000;

export type Order = 'newest' | 'oldest';

/** A search, as the transports hand it over (values not yet checked). */
export interface SearchRequest {
  terms: Partial<Record<TermField, string>>;
  leafHash?: Uint8Array;
  /** Half-open ranges [from, to), nanoseconds since the epoch. */
  occurredFrom?: bigint;
  occurredTo?: bigint;
  integratedFrom?: bigint;
  integratedTo?: bigint;
  order?: Order;
  limit?: number;
  cursor?: string;
  /** Prove each result against the tree of this size (results are limited to it), or the latest. */
  proof?: number | 'latest';
}

export interface SearchHit extends LoggedEvent {
  proof?: EventProof;
}

export interface SearchPage {
  results: SearchHit[];
  /** Set when there may be more results. */
  nextCursor?: string;
  /** The checkpoint proofs are against, when `proof: 'latest'`. */
  checkpoint?: string;
  /** Where the search was logged (audit of reads), and the salt of the commitment to its query. */
  audit?: AuditRecord;
}

/** Where a read came from, for its audit event. */
export interface ReadOrigin {
  ip?: string;
  userAgent?: string;
}

/** A request's filters as plain JSON, for the commitment in its audit event. */
function queryJson(req: Partial<SearchRequest>): Record<string, unknown> {
  const t = (ns: bigint | undefined) => (ns === undefined ? undefined : ns.toString());
  return {
    ...req.terms,
    ...(req.leafHash ? { leafHash: Buffer.from(req.leafHash).toString('base64') } : {}),
    occurredFrom: t(req.occurredFrom),
    occurredTo: t(req.occurredTo),
    integratedFrom: t(req.integratedFrom),
    integratedTo: t(req.integratedTo),
    order: req.order,
    limit: req.limit,
    cursor: req.cursor,
  };
}

/** A running live tail; close() stops it. */
export interface Tail {
  close(): void;
}

/** Where a tail delivers: send returns false when the consumer's buffer is full. */
export interface TailSink {
  send(hit: LoggedEvent): boolean;
  /** Resolves when the consumer's buffer has room again. */
  drained(): Promise<void>;
  /** The tail ended with an error (fell too far behind, or the log failed). */
  error(err: CandorError): void;
}

/** Commit notifications: the sequencer emits ('checkpoint', note, size) after each commit. */
export interface CommitSource {
  on(e: 'checkpoint', fn: (note: string, size: number) => void): unknown;
  off(e: 'checkpoint', fn: (note: string, size: number) => void): unknown;
}

export interface SearchServiceOptions {
  service: LogService;
  store: LogStore;
  index: SearchIndex;
  commits: CommitSource;
  authorize: Authorize;
  /** Logs each search and tail as an audit.log.queried event (absent or disabled: not logged). */
  audit?: ReadAudit;
  /** How far a tail may fall behind before it is dropped; default TAIL_MAX_LAG. */
  tailMaxLag?: number;
}

/** The checked form of a request's filters. */
interface Plan {
  terms: { field: number; value: string; name: string }[];
  /** Tenants the reader may see (undefined: all), when no tenant filter was given. */
  tenants: readonly string[] | undefined;
  leafHash?: Uint8Array;
  occurredFrom?: bigint;
  occurredTo?: bigint;
  integratedFrom?: bigint;
  integratedTo?: bigint;
}

/**
 * The most tenants a search scoped to several (a reader limited to them) reads per-tenant lists
 * for: one list per tenant and term, so beyond a few the plain lists cost less.
 */
const MAX_PER_TENANT_UNION = 8;

/** The reader `matching` plans for: its callers authorized the read and restricted its tenants. */
const EVERY_TENANT: Reader = { id: '-', tenants: ['*'], permissions: new Set() };

const CURSOR_RE = /^(n|o)([0-9]{1,16})$/;

function encodeCursor(order: Order, position: number): string {
  return Buffer.from(`${order === 'newest' ? 'n' : 'o'}${position}`).toString('base64url');
}

function decodeCursor(cursor: string, order: Order): number {
  const m = CURSOR_RE.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!m) throw invalid('cursor is not a cursor this log returned: pass next_cursor unchanged');
  if ((m[1] === 'n') !== (order === 'newest')) throw invalid(`cursor was returned for order=${m[1] === 'n' ? 'newest' : 'oldest'}, not order=${order}`);
  return Number(m[2]);
}

/** The union of posting lists (a reader's tenants): the nearest posting of any. */
class Union implements PostingCursor {
  constructor(
    readonly parts: PostingCursor[],
    readonly reverse: boolean,
  ) {}

  get reads(): number {
    return this.parts.reduce((a, p) => a + p.reads, 0);
  }

  async seek(target: number): Promise<number | undefined> {
    const found = (await Promise.all(this.parts.map((p) => p.seek(target)))).filter((x): x is number => x !== undefined);
    if (found.length === 0) return undefined;
    return this.reverse ? Math.max(...found) : Math.min(...found);
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.close()));
  }
}

/** Every index of the window: the list when there is no index filter. */
class Every implements PostingCursor {
  readonly reads = 0;

  constructor(
    readonly lo: number,
    readonly hi: number,
  ) {}

  seekRead(target: number): number | undefined {
    return target >= this.lo && target < this.hi ? target : undefined;
  }

  async seek(target: number): Promise<number | undefined> {
    return this.seekRead(target);
  }

  async close(): Promise<void> {}
}

/**
 * One list made of two over adjacent windows: `lower` over [lo, at), `upper` over [at, hi). Where
 * per-tenant terms begin at `at` (a log indexed by earlier code), a filter reads the plain lists
 * below it and the per-tenant ones from it on.
 */
class Split implements PostingCursor {
  constructor(
    readonly at: number,
    readonly lower: PostingCursor,
    readonly upper: PostingCursor,
    readonly reverse: boolean,
  ) {}

  get reads(): number {
    return this.lower.reads + this.upper.reads;
  }

  /** The part the target is in, and where the other one continues when that part has nothing more. */
  #parts(target: number): [PostingCursor, PostingCursor | undefined, number] {
    if (this.reverse) return target >= this.at ? [this.upper, this.lower, this.at - 1] : [this.lower, undefined, 0];
    return target < this.at ? [this.lower, this.upper, this.at] : [this.upper, undefined, 0];
  }

  seekRead(target: number): number | undefined | null {
    const [first, next, from] = this.#parts(target);
    const at = first.seekRead ? first.seekRead(target) : null;
    if (at !== undefined || !next) return at;
    return next.seekRead ? next.seekRead(from) : null;
  }

  async seek(target: number): Promise<number | undefined> {
    const [first, next, from] = this.#parts(target);
    const at = await first.seek(target);
    return at !== undefined || !next ? at : next.seek(from);
  }

  async close(): Promise<void> {
    await Promise.all([this.lower.close(), this.upper.close()]);
  }
}

export class SearchService {
  readonly #o: SearchServiceOptions;

  constructor(opts: SearchServiceOptions) {
    this.#o = opts;
  }

  /** A page of events that match; `credentials` must authenticate a reader with 'search'. */
  async search(credentials: Credentials, req: SearchRequest, origin: ReadOrigin = {}): Promise<SearchPage> {
    const order = req.order ?? 'newest';
    if (order !== 'newest' && order !== 'oldest') throw invalid('order must be "newest" or "oldest"');
    const limit = req.limit ?? DEFAULT_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw invalid(`limit must be 1 to ${MAX_LIMIT}`);
    const reader = this.#o.authorize(credentials, 'search', req.terms.tenant);
    const plan = this.#plan(req, reader);
    const service = this.#o.service;
    let size = service.size;
    let checkpoint: string | undefined;
    if (req.proof === 'latest') {
      checkpoint = service.latestCheckpoint();
      size = parseCheckpoint(checkpoint.slice(0, checkpoint.indexOf('\n\n') + 1)).size;
    } else if (req.proof !== undefined) {
      if (!Number.isSafeInteger(req.proof) || req.proof < 1) throw invalid('proof must be a tree size (a positive integer) or "latest"');
      if (req.proof > size) throw new CandorError('out_of_range', `proof ${req.proof} is beyond the tree size ${size}`);
      size = req.proof;
    }
    let [lo, hi] = await this.#window(plan, size);
    if (req.cursor !== undefined && req.cursor !== '') {
      const at = decodeCursor(req.cursor, order);
      if (order === 'oldest') lo = Math.max(lo, at + 1);
      else hi = Math.min(hi, at);
    }
    const page = await this.#run(plan, lo, hi, order === 'newest', limit);
    const results: SearchHit[] = page.hits;
    if (req.proof !== undefined) {
      await Promise.all(
        results.map(async (h) => {
          const p = await service.inclusionProof({ index: h.index, size });
          h.proof = { size, leafHash: p.leafHash, proof: p.proof };
        }),
      );
    }
    // Logged before it is answered: no read without its audit event.
    const audit = await this.#o.audit?.queried({ reader, ...origin }, 'search', queryJson(req), plan.tenants ?? (req.terms.tenant ? [req.terms.tenant] : undefined), results.length);
    return {
      results,
      ...(page.more ? { nextCursor: encodeCursor(order, page.position) } : {}),
      ...(checkpoint !== undefined ? { checkpoint } : {}),
      ...(audit ? { audit } : {}),
    };
  }

  /**
   * Follows the log: every event integrated after `afterIndex` (default: from now on) that
   * matches, in log order. A consumer that stops reading is dropped once the log is more than
   * TAIL_MAX_LAG entries ahead of it; the log never waits for it.
   */
  tail(credentials: Credentials, req: Pick<SearchRequest, 'terms' | 'leafHash' | 'occurredFrom' | 'occurredTo' | 'integratedFrom' | 'integratedTo'>, afterIndex: number | undefined, sink: TailSink, origin: ReadOrigin = {}): Tail {
    const reader = this.#o.authorize(credentials, 'search', req.terms.tenant);
    const plan = this.#plan(req, reader);
    // The tail is logged as it starts; if that fails, the stream ends with the error.
    this.#o.audit
      ?.queried({ reader, ...origin }, 'tail', queryJson(req), plan.tenants ?? (req.terms.tenant ? [req.terms.tenant] : undefined), 0)
      .catch((err: unknown) => sink.error(err instanceof CandorError ? err : new CandorError('unavailable', 'the tail could not be logged (audit of reads); retry')));
    if (afterIndex !== undefined && (!Number.isSafeInteger(afterIndex) || afterIndex < -1)) throw invalid('the index to resume after must be a non-negative integer');
    let position = afterIndex === undefined ? this.#o.service.size : afterIndex + 1;
    let closed = false;
    let running = false;
    let waiting = false;
    const commits = this.#o.commits;
    const stop = (err?: CandorError) => {
      if (closed) return;
      closed = true;
      commits.off('checkpoint', onCommit);
      if (err) sink.error(err);
    };
    const pump = async () => {
      if (running || closed) return;
      running = true;
      try {
        for (;;) {
          const size = this.#o.service.size;
          if (closed || position >= size) break;
          let [lo, hi] = await this.#window(plan, size);
          lo = Math.max(lo, position);
          if (lo >= hi) {
            position = size;
            break;
          }
          const page = await this.#run(plan, lo, hi, false, MAX_LIMIT);
          for (const h of page.hits) {
            if (closed) return;
            position = h.index + 1;
            if (!sink.send(h)) {
              waiting = true;
              await sink.drained();
              waiting = false;
            }
          }
          position = page.more ? page.position + 1 : hi;
        }
      } catch (err) {
        stop(err instanceof CandorError ? err : new CandorError('unavailable', 'the tail failed to read the log; resume from the last index received', { cause: err }));
      } finally {
        running = false;
      }
      // Commits that arrived while this pump ran are picked up now.
      if (!closed && position < this.#o.service.size) void pump();
    };
    const maxLag = this.#o.tailMaxLag ?? TAIL_MAX_LAG;
    function onCommit(_note: string, size: number) {
      if (waiting && size - position > maxLag) {
        stop(new CandorError('resource_exhausted', `the tail fell more than ${maxLag} entries behind the log (a slow consumer); resume from the last index received`, { retryAfterMs: 1000 }));
        return;
      }
      void pump();
    }
    commits.on('checkpoint', onCommit);
    void pump();
    return { close: () => stop() };
  }

  /**
   * Every event with all of `terms` among leaves [lo, hi), oldest first, a page at a time, with the
   * last index examined (for progress). No authorization and no audit: for reads whose callers did
   * both (review timelines, export), which filter further themselves.
   */
  async *matching(terms: Partial<Record<TermField, string>>, lo: number, hi: number, page = MAX_LIMIT): AsyncGenerator<{ events: LoggedEvent[]; position: number }> {
    const plan = this.#plan({ terms }, EVERY_TENANT);
    let at = lo;
    while (at < hi) {
      const r = await this.#run(plan, at, hi, false, page);
      yield { events: r.hits, position: r.position };
      if (!r.more) return;
      at = r.position + 1;
    }
  }

  /** Checks the filters; a reader limited to some tenants searches only those. */
  #plan(req: Pick<SearchRequest, 'terms' | 'leafHash' | 'occurredFrom' | 'occurredTo' | 'integratedFrom' | 'integratedTo'>, reader: Reader): Plan {
    const terms: Plan['terms'] = [];
    for (const [name, value] of Object.entries(req.terms)) {
      if (value === undefined) continue;
      if (!(name in FIELD)) throw invalid(`${name} is not a search filter (known: ${Object.keys(FIELD).join(', ')}, leaf_hash, occurred_from, occurred_to, integrated_from, integrated_to)`);
      if (typeof value !== 'string' || value === '') throw invalid(`${name} must not be empty`);
      if (value.length > MAX_VALUE_LENGTH) throw invalid(`${name} is longer than ${MAX_VALUE_LENGTH} characters`);
      if (/[\u0000-\u001f]/.test(value)) throw invalid(`${name} must not contain control characters`);
      terms.push({ field: FIELD[name as TermField], value, name });
    }
    if (req.leafHash !== undefined && req.leafHash.length !== HASH_SIZE) throw invalid('leaf_hash must be a 32-byte leaf hash');
    for (const [from, to, name] of [
      [req.occurredFrom, req.occurredTo, 'occurred'],
      [req.integratedFrom, req.integratedTo, 'integrated'],
    ] as const) {
      for (const [v, n] of [
        [from, `${name}_from`],
        [to, `${name}_to`],
      ] as const) {
        if (v !== undefined && v < 0n) throw invalid(`${n} must not be before 1970`);
      }
      if (from !== undefined && to !== undefined && to < from) throw invalid(`${name}_to is before ${name}_from`);
    }
    const all = reader.tenants.includes('*');
    const plan: Plan = { terms, tenants: req.terms.tenant !== undefined || all ? undefined : reader.tenants };
    if (req.leafHash) plan.leafHash = req.leafHash;
    if (req.occurredFrom !== undefined) plan.occurredFrom = req.occurredFrom;
    if (req.occurredTo !== undefined) plan.occurredTo = req.occurredTo;
    if (req.integratedFrom !== undefined) plan.integratedFrom = req.integratedFrom;
    if (req.integratedTo !== undefined) plan.integratedTo = req.integratedTo;
    return plan;
  }

  /** The index window [lo, hi) of the integrated_at range and the leaf hash, in a tree of `size`. */
  async #window(plan: Plan, size: number): Promise<[number, number]> {
    const { index, store } = this.#o;
    let lo = 0;
    let hi = size;
    if (plan.integratedFrom !== undefined) lo = (await index.firstIntegratedAtOrAfter(plan.integratedFrom)) ?? size;
    if (plan.integratedTo !== undefined) hi = Math.min(hi, (await index.firstIntegratedAtOrAfter(plan.integratedTo)) ?? size);
    if (plan.leafHash) {
      const [at] = await store.lookupLeafHashes([plan.leafHash]);
      if (at === undefined) return [0, 0];
      lo = Math.max(lo, at);
      hi = Math.min(hi, at + 1);
    }
    return [Math.min(lo, size), hi];
  }

  /**
   * Up to `limit` matching events in [lo, hi), in order; `position` is the last index examined
   * and `more` whether the window may hold more.
   */
  async #run(plan: Plan, lo: number, hi: number, reverse: boolean, limit: number): Promise<{ hits: SearchHit[]; position: number; more: boolean }> {
    const hits: SearchHit[] = [];
    if (lo >= hi) return { hits, position: reverse ? lo : hi - 1, more: false };
    if (plan.tenants?.length === 0) return { hits, position: reverse ? lo : hi - 1, more: false };
    const lists = this.#lists(plan, lo, hi, reverse);
    const step = reverse ? -1 : 1;
    let candidate = reverse ? hi - 1 : lo;
    let examined = 0;
    let exhausted = false;
    const overBudget = () => lists.reduce((a, l) => a + l.reads, 0) > READ_BUDGET;
    try {
      // Sparsest list first (the one whose first posting lies furthest on), densest last: a
      // dense list is then consulted only where the sparser ones agree.
      const firsts = await Promise.all(lists.map((l) => l.seek(candidate)));
      const dist = (k: number) => (firsts[k] === undefined ? Infinity : Math.abs(firsts[k]! - candidate));
      const order = lists.map((_, k) => k).sort((a, b) => dist(b) - dist(a));
      const sorted = order.map((k) => lists[k]!);
      lists.splice(0, lists.length, ...sorted);
      while (hits.length < limit && examined < SCAN_BUDGET) {
        // Collect matches of the index filters, then read and post-filter them together.
        const want = Math.min(limit - hits.length, SCAN_BUDGET - examined);
        const matched: number[] = [];
        let stopped = false;
        while (matched.length < want) {
          const m = await leapfrog(lists, candidate, overBudget);
          if (m === undefined) {
            exhausted = true;
            break;
          }
          if (!m.match) {
            // Out of budget: nothing matches between the last match and m.at.
            candidate = m.at;
            stopped = true;
            break;
          }
          matched.push(m.at);
          candidate = m.at + step;
        }
        examined += matched.length;
        for (const e of await this.#read(matched)) if (postFilter(plan, e)) hits.push(e);
        if (exhausted || stopped) break;
      }
    } finally {
      await Promise.all(lists.map((l) => l.close()));
    }
    const position = candidate - step;
    return { hits, position, more: !exhausted && (reverse ? position > lo : position < hi - 1) };
  }

  /**
   * The posting lists of a plan over [lo, hi): one per filter, plus the union of the reader's
   * tenants. When the search is within a few tenants, each filter that has per-tenant terms reads
   * those instead (a list that is already the intersection), and the tenant list is dropped; below
   * where the per-tenant terms begin (a log indexed by earlier code), the plain lists.
   */
  #lists(plan: Plan, lo: number, hi: number, reverse: boolean): PostingCursor[] {
    const { index } = this.#o;
    const plain = (a: number, b: number): PostingCursor[] => {
      const lists: PostingCursor[] = plan.terms.map((t) => index.postings(t.field, t.value, a, b, reverse));
      if (plan.tenants) lists.push(new Union(plan.tenants.map((t) => index.postings(FIELD.tenant, t, a, b, reverse)), reverse));
      if (lists.length === 0) lists.push(new Every(a, b));
      return lists;
    };
    const tenantTerm = plan.terms.find((t) => t.field === FIELD.tenant);
    const scope = tenantTerm ? [tenantTerm.value] : plan.tenants;
    const from = Math.max(lo, index.perTenantFrom());
    if (!scope || scope.length > MAX_PER_TENANT_UNION || from >= hi || !plan.terms.some((t) => PER_TENANT_FIELDS.includes(t.field))) return plain(lo, hi);
    // The same slots as plain(): each filter, then the tenants; a tenant slot reads nothing.
    const perTenant = (a: number, b: number): PostingCursor[] => {
      const lists: PostingCursor[] = plan.terms.map((t) => {
        if (t.field === FIELD.tenant) return new Every(a, b);
        if (!PER_TENANT_FIELDS.includes(t.field)) return index.postings(t.field, t.value, a, b, reverse);
        const parts = scope.map((tenant) => index.postings(PER_TENANT | t.field, tenantValue(tenant, t.value), a, b, reverse));
        return parts.length === 1 ? parts[0]! : new Union(parts, reverse);
      });
      if (plan.tenants) lists.push(new Every(a, b));
      return lists;
    };
    if (from <= lo) return perTenant(lo, hi);
    const below = plain(lo, from);
    return perTenant(from, hi).map((upper, k) => new Split(from, below[k]!, upper, reverse));
  }

  /**
   * The event leaves at `indexes` (opaque entries dropped), read one range per ENTRY_RUN: the store
   * keeps entries in runs that never cross a multiple of it, so a range within one costs one store
   * read, however many of its indexes are wanted.
   */
  async #read(indexes: readonly number[]): Promise<LoggedEvent[]> {
    const runs: [number, number][] = [];
    const sorted = [...indexes].sort((a, b) => a - b);
    for (const i of sorted) {
      const last = runs[runs.length - 1];
      if (last && Math.floor(last[0] / ENTRY_RUN) === Math.floor(i / ENTRY_RUN)) last[1] = i + 1;
      else runs.push([i, i + 1]);
    }
    const byIndex = new Map<number, Uint8Array>();
    const wanted = new Set(indexes);
    await Promise.all(
      runs.map(async ([start, end]) => {
        for (const e of await this.#o.service.entries({ start, end })) if (wanted.has(e.index)) byIndex.set(e.index, e.data);
      }),
    );
    const out: LoggedEvent[] = [];
    for (const i of indexes) {
      const leaf = byIndex.get(i)!;
      if (isEventLeaf(leaf)) out.push(decodeLoggedEvent(i, leaf));
    }
    return out;
  }
}

/**
 * The first index from `candidate` on (or back, for reverse lists) that every list holds
 * (match), or, once `overBudget`, the candidate reached so far: nothing between the start and it
 * matches. The lists come sparsest first, and each new candidate is checked from the first list
 * again: a dense list is consulted only where every sparser one agrees (round-robin would seek it
 * at every candidate a sparse list then rejects). The lists are buffered (src/storage/level.ts),
 * so most seeks cost no I/O.
 */
async function leapfrog(lists: readonly PostingCursor[], candidate: number, overBudget: () => boolean): Promise<{ at: number; match: boolean } | undefined> {
  /** The list that proposed the candidate (it holds it). */
  let proposer = -1;
  for (let k = 0; k < lists.length; k++) {
    if (k === proposer) continue;
    const list = lists[k]!;
    // Most seeks land in what the cursor has read: answered without a promise.
    let at = list.seekRead ? list.seekRead(candidate) : null;
    if (at === null) at = await list.seek(candidate);
    if (at === undefined) return undefined;
    if (at === candidate) continue;
    candidate = at;
    proposer = k;
    k = -1;
    if (overBudget()) return { at: candidate, match: false };
  }
  return { at: candidate, match: true };
}

/** The filter the index did not apply: occurred_at. */
function postFilter(plan: Plan, e: LoggedEvent): boolean {
  if (plan.occurredFrom === undefined && plan.occurredTo === undefined) return true;
  const at = e.event.occurredAt === undefined ? 0n : timestampNs(e.event.occurredAt);
  return (plan.occurredFrom === undefined || at >= plan.occurredFrom) && (plan.occurredTo === undefined || at < plan.occurredTo);
}
