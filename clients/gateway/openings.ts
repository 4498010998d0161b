/**
 * Depositing openings with the log's openings store (docs/privacy.md): after an event is
 * recorded, the gateway hands the log the openings the builder kept, over HTTP with its
 * producer token; the log checks each against the logged event and keeps it encrypted, to
 * disclose to an authorised auditor or to erase.
 *
 *   const r = await gw.column.changed({ ... });
 *   await depositOpenings({ url: 'http://log:8080', token }, r, { subject: 'cust_42' });
 *
 * Portable (fetch only).
 */
import { toBase64 } from '@candor/core/bytes';
import { CandorError, type ErrorCode } from '@candor/core/errors';
import type { Opening } from '@candor/schema/commitment';
import type { Recorded } from './client.js';

export interface OpeningsTarget {
  /** The log's HTTP base URL. */
  url: string;
  /** The producer's bearer token. */
  token: string;
  fetch?: typeof fetch;
}

export interface DepositResult {
  tenant_id: string;
  subject_id?: string;
  event_id: string;
  leaf_index: number;
  /** Every field whose opening the log now holds for the event. */
  fields: string[];
  payload: boolean;
}

/** An event's openings: a Recorded (from the SDK), or the same facts spelled out. */
export type Deposit = Recorded | { tenantId: string; eventId: string; leafIndex: number; openings: readonly Opening[] };

/**
 * Deposits an event's openings (and its off-log payload). `subject` puts them under a data
 * subject's own key, so that the subject can be erased alone. Rejects with the log's
 * CandorError (code and message) when it refuses.
 */
export async function depositOpenings(target: OpeningsTarget, d: Deposit, opts: { subject?: string; payload?: Uint8Array } = {}): Promise<DepositResult> {
  const facts = 'receipt' in d ? { tenantId: d.event.tenantId, eventId: d.event.eventId, leafIndex: d.receipt.index, openings: d.openings } : d;
  const body = {
    tenant_id: facts.tenantId,
    ...(opts.subject !== undefined ? { subject_id: opts.subject } : {}),
    event_id: facts.eventId,
    leaf_index: facts.leafIndex,
    openings: facts.openings.map((o) => ({ field: o.field, salt: toBase64(o.salt), value: toBase64(o.value) })),
    ...(opts.payload ? { payload: toBase64(opts.payload) } : {}),
  };
  const res = await (target.fetch ?? fetch)(`${target.url.replace(/\/$/, '')}/v1/openings`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${target.token}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as DepositResult & { error?: { code: ErrorCode; message: string } };
  if (!res.ok) throw new CandorError(json.error?.code ?? 'unavailable', json.error?.message ?? `the log answered HTTP ${res.status}`);
  return json;
}
