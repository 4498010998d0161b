/**
 * Index terms: what search can find an event by. One function computes them, once per event, from
 * the decoded event and its leaf; ingestion hands them to the sequencer beside the leaves, the
 * store writes them in the same batch as the tree (src/storage/level.ts), the rebuild recomputes
 * them from the leaves, and the live tail matches new events with them. Portable: no Node
 * built-ins.
 *
 * A term is (field, value): exact match, case-sensitive. The object term is the dotted path
 * database.schema.table, plus one database.schema.table.column per column, so that a search can
 * ask for a table or for one of its columns.
 */
import type { Event } from '@candor/schema/gen/candor/v1/event_pb';
import { isEventLeaf } from '@candor/schema/leaf';
import type { EntryTerms } from '../storage/store.js';
import { decodeLoggedEvent } from './types.js';

/** Term fields: the byte that names each in the store's keys. Never renumber (stored on disk). */
export const FIELD = {
  event_id: 1,
  producer_event_id: 2,
  tenant: 3,
  actor: 4,
  resource: 5,
  type: 6,
  review: 7,
  session: 8,
  object: 9,
} as const;

export type TermField = keyof typeof FIELD;

/**
 * The fields also indexed per tenant: each such term (field, value) of an event of tenant T is
 * written a second time as (PER_TENANT | field, "T NUL value"). Auditors nearly always search
 * within a tenant, and these values (an actor, a database, an event type, a table) recur across
 * tenants: a search for `object + tenant` reads the one list that is already their intersection
 * instead of walking two long ones (docs/search.md "Per-tenant terms"). Review and session ids
 * belong to one tenant already.
 */
export const PER_TENANT_FIELDS: readonly number[] = [FIELD.actor, FIELD.resource, FIELD.type, FIELD.object];
/** Set in the field byte of a per-tenant term. */
export const PER_TENANT = 0x40;

/** The value of a per-tenant term: neither part holds a NUL (add() keeps those out), so it is unambiguous. */
export function tenantValue(tenant: string, value: string): string {
  return `${tenant}\u0000${value}`;
}

/** The fields whose terms recur across events (all but the ids): their blocks are merged (src/storage/merge.ts). */
export const SHARED_FIELDS: readonly number[] = [FIELD.tenant, FIELD.actor, FIELD.resource, FIELD.type, FIELD.review, FIELD.session, FIELD.object, ...PER_TENANT_FIELDS.map((f) => PER_TENANT | f)];

/**
 * Time fields: nanoseconds since the epoch. Only integrated_at is stored (as time runs,
 * src/storage/postings.ts); occurred_at is a filter on the decoded events, and its byte is
 * reserved.
 */
export const TIME = {
  occurred_at: 0x20,
  integrated_at: 0x21,
} as const;

/** A string field of the event's body (review_id, session_id), or ''. */
function bodyString(ev: Event, name: 'reviewId' | 'sessionId'): string {
  const body = ev.body.value as Record<string, unknown> | undefined;
  const v = body?.[name];
  return typeof v === 'string' ? v : '';
}

/**
 * Adds both values when they differ: an event belongs to the review (session) its correlation
 * (envelope) names and to the one its body names, and a filter on either must find it.
 */
function addBoth(values: { field: number; value: string }[], field: number, a: string, b: string): void {
  add(values, field, a);
  if (b !== a) add(values, field, b);
}

/** database.schema.table and database.schema.table.column for each column, when there is a table. */
function objectPaths(ev: Event): string[] {
  const o = ev.object;
  if (!o?.name) return [];
  const table = [o.database, o.schema, o.name].filter(Boolean).join('.');
  return [table, ...o.columns.filter(Boolean).map((c) => `${table}.${c}`)];
}

/** Appends (field, value) unless the value is empty or holds a NUL (the key separator). */
function add(values: { field: number; value: string }[], field: number, value: string): void {
  if (value !== '' && !value.includes('\u0000')) values.push({ field, value });
}

/**
 * The index terms of an event, received at `receivedAt` (ns since the epoch): its terms and its
 * integration time, then the per-tenant copies of its PER_TENANT_FIELDS terms. Empty values are
 * not indexed. On ingestion's hot path: one small object per term, no strings built except the
 * object paths and the per-tenant values.
 */
export function eventTerms(ev: Event, receivedAt: bigint): EntryTerms {
  const values: { field: number; value: string }[] = [];
  add(values, FIELD.event_id, ev.eventId);
  add(values, FIELD.producer_event_id, ev.producerEventId);
  add(values, FIELD.tenant, ev.tenantId);
  add(values, FIELD.actor, ev.actor?.id ?? '');
  add(values, FIELD.resource, ev.resource?.id || ev.resource?.name || '');
  add(values, FIELD.type, ev.type);
  addBoth(values, FIELD.review, ev.correlation?.reviewId ?? '', bodyString(ev, 'reviewId'));
  addBoth(values, FIELD.session, ev.sessionId, bodyString(ev, 'sessionId'));
  if (ev.object?.name) for (const p of objectPaths(ev)) add(values, FIELD.object, p);
  const tenant = values.find((v) => v.field === FIELD.tenant)?.value;
  if (tenant !== undefined) {
    for (let i = 0, n = values.length; i < n; i++) {
      const { field, value } = values[i]!;
      if (PER_TENANT_FIELDS.includes(field)) values.push({ field: PER_TENANT | field, value: tenantValue(tenant, value) });
    }
  }
  return { values, integratedAt: receivedAt };
}

/** The search terms of a leaf (decoding it); undefined for an opaque entry. */
export function leafTerms(leaf: Uint8Array): EntryTerms | undefined {
  if (!isEventLeaf(leaf)) return undefined;
  const e = decodeLoggedEvent(0, leaf);
  return eventTerms(e.event, e.receivedAt);
}
