/**
 * Restoring a backup taken before an erasure must not bring the erased openings back. The log
 * holds the record: every erasure appends audit.erasure.performed events (src/privacy/service.ts)
 * naming the destroyed commitments and event IDs, as producer "candor" with AuthMethod.LOG, which
 * no producer can forge (src/events/system.ts). Replaying the events logged after the backup's
 * size against the restored openings store erases, again, every scope (a data subject's key and
 * records, or a tenant's) that holds one of those openings.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { toBase64 } from '@candor/core/bytes';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { isEventLeaf, parseEventLeaf } from '@candor/schema/leaf';
import { LOG_PRODUCER_ID } from '../producers/registry.js';
import type { OpeningsStore, Scope } from '../privacy/store.js';
import type { LogStore } from '../storage/store.js';

/** One erasure request as logged: its events may be several (its lists split to fit). */
interface LoggedErasure {
  requestId: string;
  tenant: string;
  legalBasis: string;
  commitments: Uint8Array[];
  eventIds: string[];
  /** Log indexes of its events. */
  logged: number[];
}

const PAGE = 1024;

/** The audit.erasure.performed events the log wrote itself in [start, end), by request ID. */
export async function loggedErasures(store: LogStore, start: number, end: number): Promise<LoggedErasure[]> {
  const found = new Map<string, LoggedErasure>();
  for (let from = start; from < end; from += PAGE) {
    const entries = await store.readEntries(from, Math.min(end, from + PAGE));
    for (let i = 0; i < entries.length; i++) {
      const data = entries[i]!;
      if (!isEventLeaf(data)) continue;
      const leaf = parseEventLeaf(data);
      if (leaf.producer !== LOG_PRODUCER_ID || leaf.authMethod !== AuthMethod.LOG) continue;
      const ev = fromBinary(EventSchema, leaf.event);
      if (ev.body.case !== 'erasurePerformed') continue;
      const b = ev.body.value;
      let e = found.get(b.requestId);
      if (!e) found.set(b.requestId, (e = { requestId: b.requestId, tenant: ev.tenantId, legalBasis: b.legalBasis, commitments: [], eventIds: [], logged: [] }));
      e.commitments.push(...b.commitments);
      e.eventIds.push(...b.eventIds);
      e.logged.push(from + i);
    }
  }
  return [...found.values()];
}

export interface ReplayResult {
  /** Erasure requests found in the log range. */
  requests: number;
  /** Scopes erased again (keys and records that had come back with the backup). */
  scopes: number;
  keys: number;
  records: number;
}

/**
 * Erases, in the openings store, every scope holding an opening that an erasure logged in
 * [start, end) destroyed, and journals each request as done and logged (so a retry of it on the
 * restored log logs nothing twice). The erasure's tree size is taken as its first event's index:
 * a deposit for an event below it is refused, as the original erasure refused those below its own.
 */
export async function replayErasures(store: LogStore, openings: OpeningsStore, start: number, end: number): Promise<ReplayResult> {
  const result: ReplayResult = { requests: 0, scopes: 0, keys: 0, records: 0 };
  for (const e of await loggedErasures(store, start, end)) {
    result.requests++;
    const scopes = new Map<string, Scope>();
    const add = (m: Scope | undefined) => {
      if (m && m.tenant === e.tenant) scopes.set(`${m.tenant}\u0000${m.subject}`, { tenant: m.tenant, subject: m.subject });
    };
    for (const d of e.commitments) add(openings.byDigest(d));
    for (const id of e.eventIds) for (const m of openings.byEvent(id)) add(m);
    // A tenant's own key (empty subject) means the erasure was of the whole tenant: erase it whole.
    const ordered = scopes.has(`${e.tenant}\u0000`) ? [{ tenant: e.tenant, subject: '' }] : [...scopes.values()];
    const request = { requestId: e.requestId, legalBasis: e.legalBasis, treeSize: Math.min(...e.logged) };
    let journal = openings.erasure(e.requestId);
    for (const s of ordered) {
      const done = await openings.erase(s, request);
      result.scopes++;
      result.keys += done.keys;
      result.records += done.records;
      journal = done;
    }
    // Nothing of it came back with the backup, and no journal: nothing to record either.
    if (!journal) continue;
    openings.saveErasure({ ...journal, commitments: e.commitments.map(toBase64), eventIds: e.eventIds, logged: e.logged, parts: e.logged.length });
  }
  return result;
}
