/**
 * Deposit, disclosure and erasure of openings (docs/privacy.md), once for every transport:
 *
 *  - a producer deposits the openings of an event it logged; each must open a commitment of
 *    that event, read back from the log at the index its receipt gave;
 *  - a reader with permission "disclose" on the tenant gets them back, and the disclosure is
 *    logged (audit.opening.disclosed) before a byte is answered: no log entry, no disclosure;
 *  - a reader with permission "erase" destroys a subject's or a tenant's keys and openings; the
 *    erasure is then logged (audit.erasure.performed). Leaves and proofs are untouched.
 */
import { mayRead } from '../auditors/registry.js';
import { createHash, randomUUID } from 'node:crypto';
import { create, fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { equal, fromBase64, toBase64 } from '@candor/core/bytes';
import { CandorError, invalid } from '@candor/core/errors';
import { MIN_SALT_BYTES, commitmentDigest } from '@candor/schema/commitment';
import type { EventInit } from '@candor/schema/encoding';
import { isEventLeaf, parseEventLeaf } from '@candor/schema/leaf';
import { MAX_ID_LENGTH, validateEvent } from '@candor/schema/validate';
import { ActorType, EventSchema, Outcome } from '@candor/schema/gen/candor/v1/event_pb';
import type { LogService } from '../log/service.js';
import { ProducerRegistry, type Credentials } from '../producers/registry.js';
import type { Authorize, Reader, SystemEventSink } from '../query/access.js';
import { eventCommitments } from './commitments.js';
import type { ErasureRecord, OpeningsStore, RecordMeta, StoredOpening } from './store.js';

/** Openings in one deposit. */
export const MAX_OPENINGS = 256;
/** Bytes of one opened value. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Bytes of an off-log payload. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** An erasure's digests and event IDs are split over events of about this many bytes. */
const ERASURE_EVENT_BUDGET = 48 * 1024;

export interface DepositRequest {
  tenant_id: string;
  subject_id?: string;
  event_id: string;
  /** The event's index in the log, from its receipt. */
  leaf_index: number;
  openings?: { field: string; salt: string; value: string }[];
  /** Base64 bytes of the off-log payload the event's PayloadRef points at. */
  payload?: string;
}

export interface ErasureRequest {
  request_id: string;
  tenant_id: string;
  subject_id?: string;
  legal_basis: string;
}

export interface Disclosure {
  meta: RecordMeta;
  openings: StoredOpening[];
  payload?: { bytes: Uint8Array; digest: Uint8Array };
  /** The log index of the audit.opening.disclosed event. */
  disclosureIndex: number;
}

export interface PrivacyOptions {
  store: OpeningsStore;
  service: LogService;
  registry: ProducerRegistry;
  /** Readers (auditors, admins); without it nobody may disclose or erase. */
  authorize?: Authorize;
  /** Where the log's own events go; without it nothing can be disclosed or erased. */
  systemEvents?: SystemEventSink;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function id(value: unknown, name: string, required = true): string {
  if (value === undefined || value === '') {
    if (required) throw invalid(`${name} is required`);
    return '';
  }
  if (typeof value !== 'string') throw invalid(`${name} must be a string`);
  if (value.length > MAX_ID_LENGTH) throw invalid(`${name} is ${value.length} characters; the limit is ${MAX_ID_LENGTH}`);
  if (CONTROL.test(value)) throw invalid(`${name} contains a control character`);
  return value;
}

export class PrivacyService {
  readonly store: OpeningsStore;
  readonly #o: PrivacyOptions;

  constructor(o: PrivacyOptions) {
    this.store = o.store;
    this.#o = o;
  }

  /** Stores openings a producer deposits for one of its logged events. */
  async deposit(credentials: Credentials, req: DepositRequest): Promise<RecordMeta> {
    const { producer } = this.#o.registry.authenticate(credentials);
    const tenant = id(req.tenant_id, 'tenant_id');
    const subject = id(req.subject_id, 'subject_id', false);
    const eventId = id(req.event_id, 'event_id');
    const index = req.leaf_index;
    if (!Number.isSafeInteger(index) || index < 0) throw invalid('leaf_index must be a non-negative integer (the index in the event\'s receipt)');
    const openings = req.openings ?? [];
    if (!Array.isArray(openings)) throw invalid('openings must be a list');
    if (openings.length > MAX_OPENINGS) throw invalid(`openings has ${openings.length} entries; the limit is ${MAX_OPENINGS}`);
    if (openings.length === 0 && req.payload === undefined) throw invalid('give openings or a payload');

    if (index >= this.#o.service.size) throw new CandorError('not_found', `leaf_index ${index} is not in the log yet (tree size ${this.#o.service.size})`);
    const [entry] = await this.#o.service.entries({ start: index, end: index + 1 });
    if (!entry || !isEventLeaf(entry.data)) throw invalid(`leaf_index ${index} is not an event leaf`);
    const leaf = parseEventLeaf(entry.data);
    const event = fromBinary(EventSchema, leaf.event);
    if (event.eventId !== eventId) throw invalid(`event_id: the event at leaf_index ${index} is ${JSON.stringify(event.eventId)}, not ${JSON.stringify(eventId)}`);
    if (event.tenantId !== tenant) throw invalid(`tenant_id: event ${eventId} belongs to tenant ${JSON.stringify(event.tenantId)}, not ${JSON.stringify(tenant)}`);
    if (leaf.producer !== producer.id) throw new CandorError('permission_denied', `event ${eventId} was logged by producer ${leaf.producer}; producer ${producer.id} may deposit openings only for its own events`);
    ProducerRegistry.authorize(producer, tenant, event.type, 'deposit');
    const erased = this.store.erasedBy({ tenant, subject }, index);
    if (erased) throw new CandorError('conflict', `the openings of event ${eventId} were erased (request ${erased.requestId}); they cannot be deposited again`);

    const commitments = eventCommitments(event);
    const checked: StoredOpening[] = openings.map((o, i) => {
      const at = `openings[${i}]`;
      if (!o || typeof o !== 'object') throw invalid(`${at} must be an object {field, salt, value}`);
      if (typeof o.field !== 'string' || o.field === '') throw invalid(`${at}.field is required`);
      if (typeof o.salt !== 'string') throw invalid(`${at}.salt is required (base64)`);
      if (typeof o.value !== 'string') throw invalid(`${at}.value is required (base64)`);
      const salt = fromBase64(o.salt, `${at}.salt`);
      const value = fromBase64(o.value, `${at}.value`);
      if (salt.length < MIN_SALT_BYTES || salt.length > 255) throw invalid(`${at}.salt must be ${MIN_SALT_BYTES} to 255 bytes, got ${salt.length}`);
      if (value.length > MAX_VALUE_BYTES) throw new CandorError('payload_too_large', `${at}.value is ${value.length} bytes; the limit is ${MAX_VALUE_BYTES}`);
      const opening = { field: o.field, salt, value };
      const digest = commitmentDigest(opening);
      if (!commitments.has(toBase64(digest))) {
        throw invalid(`${at} (field ${JSON.stringify(o.field)}) opens no commitment of event ${eventId}: the salt, the value or the field name is wrong`);
      }
      return { ...opening, digest };
    });
    let payload: { bytes: Uint8Array; digest: Uint8Array } | undefined;
    if (req.payload !== undefined) {
      if (typeof req.payload !== 'string') throw invalid('payload must be base64');
      const bytes = fromBase64(req.payload, 'payload');
      if (bytes.length > MAX_PAYLOAD_BYTES) throw new CandorError('payload_too_large', `payload is ${bytes.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`);
      const ref = event.payload;
      if (!ref || ref.digest.length === 0) throw invalid(`payload: event ${eventId} has no payload reference`);
      const digest = new Uint8Array(createHash('sha256').update(bytes).digest());
      if (!equal(digest, ref.digest)) throw invalid(`payload: its SHA-256 is not the digest in event ${eventId}'s payload reference`);
      payload = { bytes, digest };
    }
    return this.store.put({ tenant, subject, eventId, leafIndex: index, producer: producer.id }, checked, payload);
  }

  #reader(credentials: Credentials, permission: 'disclose' | 'erase', tenant?: string): Reader {
    if (!this.#o.authorize || !this.#o.systemEvents) {
      throw new CandorError('permission_denied', `this log has no ${this.#o.authorize ? 'system event sink' : 'auditor registry'}: nobody may ${permission}`);
    }
    return this.#o.authorize(credentials, permission, tenant);
  }

  /**
   * Opens an event's stored openings (those of `fields`, or all) for a reader with "disclose" on
   * its tenant, after logging the disclosure. `tenant` is needed only when two tenants share the
   * event ID.
   */
  async disclose(credentials: Credentials, eventId: string, q: { fields?: readonly string[]; tenant?: string } = {}): Promise<Disclosure> {
    const asker = this.#reader(credentials, 'disclose');
    id(eventId, 'event_id');
    // Another tenant's event is answered exactly as an unknown ID: a reader learns nothing of
    // events it may not see, not even that they exist (issue 18 §5).
    let metas = this.store.byEvent(eventId).filter((m) => mayRead(asker, m.tenant));
    if (q.tenant !== undefined) metas = metas.filter((m) => m.tenant === q.tenant);
    if (metas.length === 0) throw new CandorError('not_found', `no openings are stored for event ${eventId}${q.tenant !== undefined ? ` of tenant ${JSON.stringify(q.tenant)}` : ''}`);
    if (metas.length > 1) throw new CandorError('conflict', `event ID ${eventId} has openings in ${metas.length} tenants: give ?tenant=`);
    const meta = metas[0]!;
    const reader = this.#reader(credentials, 'disclose', meta.tenant);
    const known = new Set([...meta.fields, ...(meta.payloadDigest ? ['payload'] : [])]);
    for (const f of q.fields ?? []) if (!known.has(f)) throw new CandorError('not_found', `field ${JSON.stringify(f)}: no opening of it is stored for event ${eventId} (stored: ${[...known].join(', ')})`);
    let opened: ReturnType<OpeningsStore['read']>;
    try {
      opened = this.store.read(meta, q.fields);
    } catch (err) {
      // A record that does not authenticate was altered on disk: the log's fault, not the reader's.
      if (err instanceof CandorError && err.code === 'verification_failed') throw new CandorError('internal', err.message, { cause: err });
      throw err;
    }
    const fields = [...opened.openings.map((o) => o.field), ...(opened.payload ? ['payload'] : [])];
    const { index } = await this.#o.systemEvents!.append(
      this.#systemEvent('audit.opening.disclosed', meta.tenant, reader, {
        case: 'openingDisclosed',
        value: { disclosedEventId: eventId, fields, recipient: reader.id },
      }),
    );
    return { meta, ...opened, disclosureIndex: index };
  }

  /**
   * Erases a subject's (or with no subject_id, a whole tenant's) openings and keys, then logs
   * it. Idempotent on request_id: a retry returns the recorded erasure, and finishes logging it
   * if an earlier attempt stopped after destroying the keys.
   */
  async erase(credentials: Credentials, req: ErasureRequest): Promise<{ erasure: ErasureRecord; repeated: boolean }> {
    const requestId = id(req.request_id, 'request_id');
    const tenant = id(req.tenant_id, 'tenant_id');
    const subject = id(req.subject_id, 'subject_id', false);
    const legalBasis = id(req.legal_basis, 'legal_basis');
    const reader = this.#reader(credentials, 'erase', tenant);
    let e = this.store.erasure(requestId);
    const repeated = e !== undefined;
    if (e) {
      if (e.tenant !== tenant || e.legalBasis !== legalBasis || !this.store.isScopeOf(e, { tenant, subject })) {
        throw new CandorError('conflict', `request_id ${requestId} was used for another erasure`);
      }
    } else {
      e = await this.store.erase({ tenant, subject }, { requestId, legalBasis, treeSize: this.#o.service.size });
    }
    if (e.parts === 0 || e.logged.length < e.parts) e = await this.#logErasure(e, reader);
    return { erasure: e, repeated };
  }

  /** Appends the erasure's events (its lists split to fit), recording each in the journal. */
  async #logErasure(e: ErasureRecord, reader: Reader): Promise<ErasureRecord> {
    const parts: { commitments: Uint8Array[]; eventIds: string[] }[] = [];
    let cur = { commitments: [] as Uint8Array[], eventIds: [] as string[] };
    let bytes = 0;
    const push = (n: number) => {
      if (bytes + n > ERASURE_EVENT_BUDGET && bytes > 0) {
        parts.push(cur);
        cur = { commitments: [], eventIds: [] };
        bytes = 0;
      }
      bytes += n;
    };
    for (const d of e.commitments) {
      push(34);
      cur.commitments.push(fromBase64(d, 'digest'));
    }
    for (const ev of e.eventIds) {
      push(ev.length * 3 + 3);
      cur.eventIds.push(ev);
    }
    parts.push(cur);
    e.parts = parts.length;
    for (let i = e.logged.length; i < parts.length; i++) {
      const p = parts[i]!;
      const ev = this.#systemEvent('audit.erasure.performed', e.tenant, reader, {
        case: 'erasurePerformed',
        value: { requestId: e.requestId, commitments: p.commitments, legalBasis: e.legalBasis, eventIds: p.eventIds },
      });
      if (parts.length > 1) ev.labels = [{ key: 'part', value: `${i + 1}/${parts.length}` }];
      const { index } = await this.#o.systemEvents!.append(ev);
      e.logged.push(index);
      this.store.saveErasure(e);
    }
    return e;
  }

  #systemEvent(type: string, tenant: string, reader: Reader, body: EventInit['body']): EventInit {
    const eventId = randomUUID();
    const init: EventInit = {
      eventId,
      producerEventId: eventId,
      type,
      occurredAt: timestampFromDate(new Date()),
      tenantId: tenant,
      actor: { id: reader.id, type: ActorType.HUMAN },
      outcome: Outcome.SUCCESS,
      body,
    };
    // Fail here, with the reason, rather than in the sink.
    validateEvent(create(EventSchema, init), type);
    return init;
  }
}
