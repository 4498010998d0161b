/**
 * The openings store (docs/privacy.md): the openings (field, salt, value) of events' salted
 * commitments, and off-log payloads, kept apart from the log so that they can be erased while
 * every leaf and proof stays. Plain files under <data>/openings, so that erasure is an unlink
 * that leaves nothing behind (a LevelDB delete leaves the value in .log/.sst files until a
 * compaction):
 *
 *   keys/<T>/<S>.dek            a data-encryption key (DEK), wrapped by the master key
 *   records/<T>/<S>/<E>.json    one event's openings, each sealed with the scope's DEK
 *   erasures/<R>.json           the journal of an erasure request (digests and event IDs only)
 *
 * <T>, <S>, <E>, <R> are HMACs (under a key derived from the master key) of the tenant, the
 * scope (the tenant itself, or a data subject of it), the event ID and the request ID: file
 * names say nothing, and the name of an erased subject cannot be confirmed by guessing.
 *
 * Every opening is sealed on its own with AES-256-GCM; its associated data binds tenant, subject,
 * event ID, field and commitment digest (crypto.ts), so a ciphertext moved to another place fails
 * to open. Writes are atomic (temporary file, fsync, rename, fsync of the directory). An index
 * by event ID and by commitment digest is built in memory when the store opens, from the record
 * headers (which hold no secret).
 */
import { createHmac } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { concat, equal, fromBase64, toBase64 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { commitmentDigest, type Opening } from '@candor/schema/commitment';
import { associatedData, loadMasterKey, newKey, open, seal, sealedFromJson, sealedToJson } from './crypto.js';

/** Where a record's openings are encrypted: the tenant's DEK, or a data subject's. */
export interface Scope {
  tenant: string;
  /** Empty for the tenant's own key. */
  subject: string;
}

/** What the index knows about a stored record: no secret. */
export interface RecordMeta extends Scope {
  eventId: string;
  leafIndex: number;
  producer: string;
  fields: string[];
  /** Base64 commitment digests, in the order of `fields`. */
  digests: string[];
  /** Base64 SHA-256 of the payload, when one is stored. */
  payloadDigest?: string;
}

export interface StoredOpening extends Opening {
  digest: Uint8Array;
}

export interface ErasureRecord {
  requestId: string;
  tenant: string;
  /** The scope's name (an HMAC), never the subject ID in the clear. */
  scope: string;
  legalBasis: string;
  /** The tree size when the openings were destroyed: deposits for events below it are refused. */
  treeSize: number;
  commitments: string[];
  eventIds: string[];
  keys: number;
  records: number;
  /** Log indexes of the audit.erasure.performed events appended so far. */
  logged: number[];
  /** How many events the erasure is recorded in (its lists are split to fit events). */
  parts: number;
}

interface RecordFile extends RecordMeta {
  version: 1;
  openings: { field: string; digest: string; nonce: string; sealed: string }[];
  payload?: { digest: string; nonce: string; sealed: string };
}

interface DekFile extends Scope {
  version: 1;
  nonce: string;
  sealed: string;
}

const TENANT_SCOPE = 'tenant';

/** Writes a file atomically and durably: temporary file, fsync, rename, fsync of the directory. */
function writeAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Overwrites a file with zeros, syncs, and unlinks it. The overwrite is best effort against the
 * blocks lingering on a simple filesystem (copy-on-write filesystems, SSD wear levelling and
 * snapshots keep old blocks regardless: docs/privacy.md); the unlink is what the store relies on.
 */
function shred(file: string): void {
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, new Uint8Array(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(file);
}

function list(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

function rmdirIfEmpty(dir: string): void {
  if (existsSync(dir) && readdirSync(dir).length === 0) {
    rmdirSync(dir);
    syncDir(dirname(dir));
  }
}

export class OpeningsStore {
  readonly dir: string;
  readonly #master: Uint8Array;
  readonly #nameKey: Uint8Array;
  readonly #byEvent = new Map<string, RecordMeta[]>();
  readonly #byDigest = new Map<string, RecordMeta>();
  readonly #deks = new Map<string, Uint8Array>();
  readonly #erasures = new Map<string, ErasureRecord>();
  /** Mutations one at a time: a deposit never races an erasure of its scope. */
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, master: Uint8Array) {
    this.dir = dir;
    this.#master = master;
    this.#nameKey = new Uint8Array(createHmac('sha256', master).update('candor/privacy/names/v1').digest());
  }

  /**
   * Opens (or creates) the store in `dir`. The master key file is created on first use only
   * when it is the default one (`createKey`) and no wrapped key exists yet; otherwise a missing
   * key file is an error, since the stored openings could not be read without it.
   */
  static open(opts: { dir: string; masterKeyFile: string; createKey: boolean }): OpeningsStore {
    const hasKeys = list(join(opts.dir, 'keys')).length > 0;
    const { key } = loadMasterKey(opts.masterKeyFile, opts.createKey && !hasKeys);
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const s = new OpeningsStore(opts.dir, key);
    s.#load();
    return s;
  }

  #name(kind: string, ...parts: string[]): string {
    return createHmac('sha256', this.#nameKey).update(`${kind}\u0000${parts.join('\u0000')}`).digest('hex');
  }

  #scopeName(s: Scope): string {
    return s.subject === '' ? TENANT_SCOPE : `s-${this.#name('subject', s.tenant, s.subject).slice(0, 48)}`;
  }

  #tenantDir(root: 'keys' | 'records', tenant: string): string {
    return join(this.dir, root, this.#name('tenant', tenant).slice(0, 48));
  }

  #dekFile(s: Scope): string {
    return join(this.#tenantDir('keys', s.tenant), `${this.#scopeName(s)}.dek`);
  }

  #recordFile(s: Scope, eventId: string): string {
    return join(this.#tenantDir('records', s.tenant), this.#scopeName(s), `${this.#name('event', eventId).slice(0, 48)}.json`);
  }

  #erasureFile(requestId: string): string {
    return join(this.dir, 'erasures', `${this.#name('request', requestId).slice(0, 48)}.json`);
  }

  #load(): void {
    for (const t of list(join(this.dir, 'records'))) {
      for (const s of list(join(this.dir, 'records', t))) {
        for (const f of list(join(this.dir, 'records', t, s))) {
          if (f.endsWith('.json')) this.#index(this.#readRecord(join(this.dir, 'records', t, s, f)));
        }
      }
    }
    for (const f of list(join(this.dir, 'erasures'))) {
      if (!f.endsWith('.json')) continue;
      const r = JSON.parse(readFileSync(join(this.dir, 'erasures', f), 'utf8')) as ErasureRecord;
      this.#erasures.set(r.requestId, r);
    }
  }

  #readRecord(file: string): RecordFile {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as RecordFile;
    } catch (err) {
      throw new CandorError('internal', `openings record ${file} is unreadable: ${(err as Error).message}`, { cause: err });
    }
  }

  #index(r: RecordMeta): void {
    const meta: RecordMeta = {
      tenant: r.tenant,
      subject: r.subject,
      eventId: r.eventId,
      leafIndex: r.leafIndex,
      producer: r.producer,
      fields: r.fields,
      digests: r.digests,
      ...(r.payloadDigest ? { payloadDigest: r.payloadDigest } : {}),
    };
    const list = (this.#byEvent.get(r.eventId) ?? []).filter((m) => m.tenant !== r.tenant);
    list.push(meta);
    this.#byEvent.set(r.eventId, list);
    for (const d of r.digests) this.#byDigest.set(d, meta);
  }

  #unindex(r: RecordMeta): void {
    const left = (this.#byEvent.get(r.eventId) ?? []).filter((m) => m.tenant !== r.tenant);
    if (left.length > 0) this.#byEvent.set(r.eventId, left);
    else this.#byEvent.delete(r.eventId);
    for (const d of r.digests) this.#byDigest.delete(d);
  }

  #serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * The scope's DEK, unwrapped; created (and stored wrapped) when `create` and it does not exist.
   * Exposed for key escrow and for the tests that prove an erased key is gone: treat as secret.
   */
  dataKey(s: Scope, create = false): Uint8Array | undefined {
    const file = this.#dekFile(s);
    const cached = this.#deks.get(file);
    if (cached) return cached;
    const ad = associatedData('dek', s.tenant, s.subject);
    let dek: Uint8Array;
    if (existsSync(file)) {
      const j = JSON.parse(readFileSync(file, 'utf8')) as DekFile;
      dek = open(this.#master, sealedFromJson(j, 'data key'), ad, `the data key of ${describe(s)}`);
    } else {
      if (!create) return undefined;
      dek = newKey();
      const w = seal(this.#master, dek, ad);
      const doc: DekFile = { version: 1, tenant: s.tenant, subject: s.subject, ...sealedToJson(w) };
      writeAtomic(file, `${JSON.stringify(doc)}\n`);
    }
    this.#deks.set(file, dek);
    return dek;
  }

  /** Records for an event ID (one per tenant that has it). */
  byEvent(eventId: string): readonly RecordMeta[] {
    return this.#byEvent.get(eventId) ?? [];
  }

  /** The record holding the opening of a commitment digest. */
  byDigest(digest: Uint8Array): RecordMeta | undefined {
    return this.#byDigest.get(toBase64(digest));
  }

  /** Whether the scope's openings were erased for events below some tree size: the erasure. */
  erasedBy(s: Scope, leafIndex: number): ErasureRecord | undefined {
    const scope = this.#scopeName(s);
    for (const e of this.#erasures.values()) {
      if (e.tenant === s.tenant && (e.scope === TENANT_SCOPE || e.scope === scope) && leafIndex < e.treeSize) return e;
    }
    return undefined;
  }

  /**
   * Stores an event's openings (each already checked against the event) and its payload. A
   * second deposit for the same event adds the fields not stored yet. Returns the record's
   * fields after the deposit.
   */
  put(meta: Omit<RecordMeta, 'fields' | 'digests' | 'payloadDigest'>, openings: readonly StoredOpening[], payload?: { bytes: Uint8Array; digest: Uint8Array }): Promise<RecordMeta> {
    return this.#serial(() => {
      const other = this.byEvent(meta.eventId).find((m) => m.tenant === meta.tenant);
      if (other && other.subject !== meta.subject) {
        throw new CandorError('conflict', `event ${meta.eventId} has openings stored under ${other.subject ? 'another subject' : 'the tenant key'}; deposit its openings with the same subject_id`);
      }
      const file = this.#recordFile(meta, meta.eventId);
      const rec: RecordFile = other
        ? this.#readRecord(file)
        : { version: 1, ...meta, fields: [], digests: [], openings: [] };
      const dek = this.dataKey(meta, true)!;
      for (const o of openings) {
        const digest = toBase64(o.digest);
        if (rec.digests.includes(digest)) continue;
        const ad = associatedData('opening', meta.tenant, meta.subject, meta.eventId, o.field, o.digest);
        const plain = concat(new Uint8Array([o.salt.length]), o.salt, o.value);
        rec.openings.push({ field: o.field, digest, ...sealedToJson(seal(dek, plain, ad)) });
        rec.fields.push(o.field);
        rec.digests.push(digest);
      }
      if (payload && !rec.payload) {
        const digest = toBase64(payload.digest);
        rec.payload = { digest, ...sealedToJson(seal(dek, payload.bytes, associatedData('payload', meta.tenant, meta.subject, meta.eventId, payload.digest))) };
        rec.payloadDigest = digest;
      }
      writeAtomic(file, `${JSON.stringify(rec)}\n`);
      this.#index(rec);
      return this.byEvent(meta.eventId).find((m) => m.tenant === meta.tenant)!;
    });
  }

  /**
   * Decrypts a record's openings (those of `fields`, or all) and its payload. Each opening is
   * checked against its commitment digest again: a record that does not open is tampered with.
   */
  read(meta: RecordMeta, fields?: readonly string[]): { openings: StoredOpening[]; payload?: { bytes: Uint8Array; digest: Uint8Array } } {
    const file = this.#recordFile(meta, meta.eventId);
    if (!existsSync(file)) throw new CandorError('not_found', `the openings of event ${meta.eventId} were erased`);
    const rec = this.#readRecord(file);
    if (rec.tenant !== meta.tenant || rec.subject !== meta.subject || rec.eventId !== meta.eventId) {
      throw new CandorError('verification_failed', `openings record ${file} is not event ${meta.eventId}'s: it was moved`);
    }
    const dek = this.dataKey(meta);
    if (!dek) throw new CandorError('not_found', `the data key of ${describe(meta)} was erased`);
    const openings: StoredOpening[] = [];
    for (const o of rec.openings) {
      if (fields && !fields.includes(o.field)) continue;
      const digest = fromBase64(o.digest, 'digest');
      const what = `the opening of ${JSON.stringify(o.field)} of event ${meta.eventId}`;
      const plain = open(dek, sealedFromJson(o, what), associatedData('opening', meta.tenant, meta.subject, meta.eventId, o.field, digest), what);
      const opening = { field: o.field, salt: plain.subarray(1, 1 + plain[0]!), value: plain.subarray(1 + plain[0]!) };
      if (!equal(commitmentDigest(opening), digest)) throw new CandorError('verification_failed', `${what} does not open its commitment`);
      openings.push({ ...opening, digest });
    }
    let payload: { bytes: Uint8Array; digest: Uint8Array } | undefined;
    if (rec.payload && (!fields || fields.includes('payload'))) {
      const digest = fromBase64(rec.payload.digest, 'digest');
      const what = `the payload of event ${meta.eventId}`;
      payload = { digest, bytes: open(dek, sealedFromJson(rec.payload, what), associatedData('payload', meta.tenant, meta.subject, meta.eventId, digest), what) };
    }
    return payload ? { openings, payload } : { openings };
  }

  /** Whether an erasure was of this scope. */
  isScopeOf(e: ErasureRecord, s: Scope): boolean {
    return e.tenant === s.tenant && e.scope === this.#scopeName(s);
  }

  /** A recorded erasure request, by its ID. */
  erasure(requestId: string): ErasureRecord | undefined {
    return this.#erasures.get(requestId);
  }

  /** Saves an erasure's journal (before its events are appended, and after each). */
  saveErasure(e: ErasureRecord): void {
    writeAtomic(this.#erasureFile(e.requestId), `${JSON.stringify(e)}\n`);
    this.#erasures.set(e.requestId, e);
  }

  /**
   * Destroys a scope's openings: a subject's (its DEK and records), or with an empty subject the
   * whole tenant's (every DEK and record of the tenant). The journal entry is written first, with
   * the affected digests and event IDs, so an erasure interrupted by a crash is finished, and
   * logged, when its request is retried. Returns the journal entry.
   */
  erase(s: Scope, request: { requestId: string; legalBasis: string; treeSize: number }): Promise<ErasureRecord> {
    return this.#serial(() => {
      const recordsDir = this.#tenantDir('records', s.tenant);
      const keysDir = this.#tenantDir('keys', s.tenant);
      const scopes = s.subject === '' ? list(recordsDir) : [this.#scopeName(s)];
      const records: string[] = [];
      for (const sc of scopes) for (const f of list(join(recordsDir, sc))) records.push(join(recordsDir, sc, f));
      const keys = s.subject === '' ? list(keysDir).map((f) => join(keysDir, f)) : [this.#dekFile(s)].filter((f) => existsSync(f));
      const metas = records.filter((f) => f.endsWith('.json')).map((f) => this.#readRecord(f));
      const e: ErasureRecord = {
        requestId: request.requestId,
        tenant: s.tenant,
        scope: this.#scopeName(s),
        legalBasis: request.legalBasis,
        treeSize: request.treeSize,
        commitments: metas.flatMap((m) => m.digests),
        eventIds: metas.map((m) => m.eventId),
        keys: keys.length,
        records: metas.length,
        logged: [],
        parts: 0,
      };
      this.saveErasure(e);
      // Keys first: once they are gone, whatever else survives (a backup of a record) is noise.
      for (const k of keys) {
        this.#deks.get(k)?.fill(0);
        this.#deks.delete(k);
        shred(k);
      }
      for (const r of records) shred(r);
      for (const m of metas) this.#unindex(m);
      for (const sc of scopes) rmdirIfEmpty(join(recordsDir, sc));
      rmdirIfEmpty(recordsDir);
      rmdirIfEmpty(keysDir);
      if (keys.length > 0) syncDir(existsSync(keysDir) ? keysDir : dirname(keysDir));
      return e;
    });
  }
}

function describe(s: Scope): string {
  return s.subject === '' ? `tenant ${JSON.stringify(s.tenant)}` : `subject ${JSON.stringify(s.subject)} of tenant ${JSON.stringify(s.tenant)}`;
}
