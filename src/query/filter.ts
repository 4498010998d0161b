/**
 * Which events a read selects: a leaf-index range and conditions on the event. Export records the
 * filter in its manifest, and the offline verifier checks every exported event against it, so a
 * filter is plain JSON (times as RFC 3339 strings) and its predicate is portable (no Node
 * built-ins).
 *
 *   start, end   leaf indexes [start, end); end defaults to the checkpoint's size
 *   tenant       any of these tenant IDs
 *   type         any of these type patterns ("review.*", "query.executed", "*")
 *   from, to     occurred_at in [from, to), RFC 3339 (src/core/time.ts: seconds required, to the nanosecond)
 *   review       the review ID (review.* bodies, access grants, session.started, correlation)
 *   session      the session ID
 *   actor        the actor ID
 *   producer     the authenticated producer ID (from the leaf)
 */
import { invalid } from '@candor/core/errors';
import type { Event } from '@candor/schema/gen/candor/v1/event_pb';
import { typeMatches } from '@candor/schema/types';
import { fieldsOf } from './fields.js';
import { parseRfc3339 } from '@candor/core/time';
import type { LoggedEvent } from './types.js';

export interface EventFilter {
  start?: number;
  end?: number;
  tenant?: string[];
  type?: string[];
  from?: string;
  to?: string;
  review?: string;
  session?: string;
  actor?: string;
  producer?: string;
}

/** The query parameters a filter is read from, in this order (also the manifest's key order). */
import { FILTER_KEYS } from './filter-keys.js';

export { FILTER_KEYS };

/** The review an event belongs to, if any: the body's review_id, else session.started's, else correlation.review_id. */
export function reviewIdOf(ev: Event): string {
  const b = ev.body;
  if (b.case !== undefined && b.value !== undefined && 'reviewId' in b.value && typeof b.value.reviewId === 'string' && b.value.reviewId !== '') {
    return b.value.reviewId;
  }
  return ev.correlation?.reviewId ?? '';
}

function index(v: unknown, what: string): number {
  const n = typeof v === 'string' && /^(0|[1-9][0-9]*)$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(`${what} must be a non-negative integer`);
  return n;
}

function strings(v: unknown, what: string): string[] {
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((s) => typeof s === 'string' && s !== '')) throw invalid(`${what} must be a non-empty string`);
  return list as string[];
}

/**
 * A filter from query parameters (or a parsed manifest), checked: every value names its key in
 * errors; unknown keys are errors, so a typo never widens an export.
 */
export function parseFilter(q: Record<string, unknown>, what = 'filter'): EventFilter {
  const f: EventFilter = {};
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const at = `${what}.${k}`;
    switch (k) {
      case 'start':
      case 'end':
        f[k] = index(v, at);
        break;
      case 'tenant':
        f.tenant = strings(v, at);
        break;
      case 'type':
        f.type = strings(v, at);
        for (const t of f.type) if (!/^(\*|[a-z0-9_.]+(\.\*)?)$/.test(t)) throw invalid(`${at} ${JSON.stringify(t)} is not a type or "prefix.*" pattern`);
        break;
      case 'from':
      case 'to': {
        const [s] = strings(v, at);
        if (Array.isArray(v) && v.length > 1) throw invalid(`${at} is given more than once`);
        parseRfc3339(s!, at);
        f[k] = s!;
        break;
      }
      case 'review':
      case 'session':
      case 'actor':
      case 'producer': {
        const s = strings(v, at);
        if (s.length > 1) throw invalid(`${at} is given more than once`);
        f[k] = s[0]!;
        break;
      }
      default:
        throw invalid(`${at} is not a known filter (known: ${FILTER_KEYS.join(', ')})`);
    }
  }
  if (f.start !== undefined && f.end !== undefined && f.end <= f.start) throw invalid(`${what}.end must be larger than start`);
  if (f.from !== undefined && f.to !== undefined && parseRfc3339(f.to, 'to') <= parseRfc3339(f.from, 'from')) throw invalid(`${what}.to must be later than from`);
  return f;
}

/** The filter as canonical JSON: keys in FILTER_KEYS order, absent ones left out. */
export function filterJson(f: EventFilter): string {
  const o: Record<string, unknown> = {};
  for (const k of FILTER_KEYS) if (f[k] !== undefined) o[k] = f[k];
  return JSON.stringify(o);
}

/**
 * The predicate of a filter over logged events (the index range is the source's to apply, and is
 * checked here too). It reads the envelope fields from the event bytes (fields.ts), so events
 * that do not match are never decoded.
 */
export function compileFilter(f: EventFilter): (e: LoggedEvent) => boolean {
  const from = f.from === undefined ? undefined : parseRfc3339(f.from, 'from');
  const to = f.to === undefined ? undefined : parseRfc3339(f.to, 'to');
  const tenants = f.tenant === undefined ? undefined : new Set(f.tenant);
  const types = f.type;
  return (e) => {
    if (f.start !== undefined && e.index < f.start) return false;
    if (f.end !== undefined && e.index >= f.end) return false;
    if (f.producer !== undefined && e.producer !== f.producer) return false;
    const ev = fieldsOf(e);
    if (tenants && !tenants.has(ev.tenantId)) return false;
    if (types && !types.some((p) => typeMatches(p, ev.type))) return false;
    if (f.actor !== undefined && ev.actorId !== f.actor) return false;
    if (f.session !== undefined && ev.sessionId !== f.session && ev.executionSessionId !== f.session) return false;
    if (f.review !== undefined && ev.reviewId !== f.review) return false;
    if (from !== undefined || to !== undefined) {
      const ns = BigInt(ev.seconds) * 1_000_000_000n + BigInt(ev.nanos);
      if (from !== undefined && ns < from) return false;
      if (to !== undefined && ns >= to) return false;
    }
    return true;
  };
}
