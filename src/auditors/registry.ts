/**
 * The auditor (reader) registry: who may read events (search, export, timelines), disclose
 * openings or erase, and for which tenants. Kept in <data>/auditors.json, written only by
 * `candor auditor ...` (src/auditors/cli.ts) and re-read by a running log within a second of a
 * change, as the producer registry is (src/producers/registry.ts, whose token scheme it shares:
 * 256-bit bearer tokens stored as SHA-256 hashes, here with the prefix "candor_at_").
 *
 * An auditor's ID is pseudonymous; it is what audit-of-audit events record as the actor.
 */
import { existsSync, readFileSync } from 'node:fs';
import { CandorError, invalid } from '@candor/core/errors';
import { hashToken, newToken, type Credentials, type TokenRecord } from '../producers/registry.js';
import { PERMISSIONS, type Authorize, type Permission, type Reader } from '../query/access.js';
import { fileStamp, updateJsonFile, watchFile } from '../storage/jsonfile.js';

export const AUDITORS_FILE = 'auditors.json';
export const AUDITOR_TOKEN_PREFIX = 'candor_at_';
export { PERMISSIONS } from '../query/access.js';

export interface AuditorRecord {
  id: string;
  description?: string;
  /** Tenant IDs, or "*" for all. */
  tenants: string[];
  permissions: Permission[];
  tokens: TokenRecord[];
  disabled: boolean;
  created: string;
}

export interface AuditorsDocument {
  version: 1;
  auditors: AuditorRecord[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

/** Checks one auditor record; `where` names it in errors. */
export function checkAuditorRecord(a: AuditorRecord, where = `auditor ${JSON.stringify(a.id)}`): void {
  const bad = (why: string): never => {
    throw invalid(`${where}: ${why}`);
  };
  if (typeof a.id !== 'string' || !ID_RE.test(a.id)) bad('the ID must be 1 to 128 characters from A-Z a-z 0-9 . _ : / @ - (starting with a letter or digit)');
  if (!Array.isArray(a.tenants) || a.tenants.length === 0 || !a.tenants.every((t) => typeof t === 'string' && t !== '')) bad('no tenants: give --tenant (or "*")');
  if (!Array.isArray(a.permissions) || a.permissions.length === 0) bad(`no permissions: give --permission (${PERMISSIONS.join(', ')})`);
  for (const p of a.permissions) if (!PERMISSIONS.includes(p)) bad(`permission ${JSON.stringify(p)} is not one of ${PERMISSIONS.join(', ')}`);
  // Entries hold every tenant's events, whole: no tenant can be cut out of an entry bundle.
  if (a.permissions.includes('read-log') && !a.tenants.includes('*')) bad('read-log reads every tenant\'s entries: it needs --tenant "*"');
  if (!Array.isArray(a.tokens)) bad('tokens must be a list');
}

export function checkAuditors(doc: unknown, file: string): AuditorsDocument {
  const d = doc as AuditorsDocument;
  if (!d || typeof d !== 'object' || d.version !== 1 || !Array.isArray(d.auditors)) throw invalid(`${file} is not a Candor auditor registry (version 1)`);
  const ids = new Set<string>();
  for (const a of d.auditors) {
    checkAuditorRecord(a, `${file}: auditor ${JSON.stringify(a.id)}`);
    if (ids.has(a.id)) throw invalid(`${file}: auditor ${JSON.stringify(a.id)} is registered twice`);
    ids.add(a.id);
  }
  return d;
}

export function readAuditorsFile(file: string): AuditorsDocument {
  if (!existsSync(file)) return { version: 1, auditors: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw invalid(`cannot read ${file}: ${(err as Error).message}`);
  }
  return checkAuditors(doc, file);
}

export function updateAuditorsFile<T>(file: string, change: (doc: AuditorsDocument) => T): T {
  return updateJsonFile(file, 'auditor', readAuditorsFile, checkAuditors, change);
}

/** A new auditor token ("candor_at_..."), shown once, and the record that keeps its hash. */
export function newAuditorToken(): { token: string; record: TokenRecord } {
  return newToken(AUDITOR_TOKEN_PREFIX);
}

const unauthenticated = (m: string) => new CandorError('unauthenticated', m);

/** The registry a running log authorizes readers against; the file is re-read when it changes. */
export class AuditorRegistry {
  readonly file: string;
  #byToken = new Map<string, { record: AuditorRecord; reader: Reader }>();
  #stamp = '';
  #timer: NodeJS.Timeout | undefined;

  private constructor(file: string) {
    this.file = file;
  }

  /** Loads the registry (an absent file: nobody may read) and checks it for changes every `watchMs`. */
  static open(file: string, opts: { watchMs?: number; onReloadError?: (err: unknown) => void } = {}): AuditorRegistry {
    const r = new AuditorRegistry(file);
    r.reload();
    r.#timer = watchFile(() => r.reload(), opts);
    return r;
  }

  /** Re-reads the file if it changed; a bad file throws and keeps the previous registry. */
  reload(force = false): void {
    const stamp = fileStamp(this.file);
    if (!force && stamp === this.#stamp) return;
    const doc = readAuditorsFile(this.file);
    const byToken = new Map<string, { record: AuditorRecord; reader: Reader }>();
    for (const record of doc.auditors) {
      const reader: Reader = { id: record.id, tenants: [...record.tenants], permissions: new Set(record.permissions) };
      for (const t of record.tokens) byToken.set(t.sha256, { record, reader });
    }
    this.#byToken = byToken;
    this.#stamp = stamp;
  }

  /** Authorize (src/query/access.ts): the reader behind a bearer token, if it has `permission` (and may see `tenant`). */
  readonly authorize: Authorize = (c: Credentials, permission: Permission, tenant?: string): Reader => {
    if (c.malformed !== undefined) throw unauthenticated(c.malformed);
    if (c.token === undefined) throw unauthenticated('no credentials: send "authorization: Bearer <auditor token>" (see "candor auditor add")');
    const found = this.#byToken.get(hashToken(c.token));
    if (!found) throw unauthenticated('the bearer token is not a valid auditor token (unknown or revoked)');
    const { record, reader } = found;
    if (record.disabled) throw new CandorError('permission_denied', `auditor ${record.id} is disabled`);
    if (!reader.permissions.has(permission)) throw new CandorError('permission_denied', `auditor ${record.id} does not have the ${permission} permission`);
    if (tenant !== undefined && !mayRead(reader, tenant)) throw new CandorError('permission_denied', `auditor ${record.id} may not read tenant ${JSON.stringify(tenant)}`);
    if (permission === 'read-log' && !reader.tenants.includes('*')) throw new CandorError('permission_denied', `auditor ${record.id} may not read every tenant, and entries hold every tenant's events`);
    return reader;
  };

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Whether a reader may see a tenant's events. */
export function mayRead(reader: Reader, tenant: string): boolean {
  return reader.tenants.includes('*') || reader.tenants.includes(tenant);
}

/**
 * The tenants a read covers: those asked for (each must be the reader's to see), or, when none
 * are, all the reader's (undefined: every tenant, for a reader with "*").
 */
export function readableTenants(reader: Reader, asked: readonly string[] | undefined): string[] | undefined {
  if (asked && asked.length > 0) {
    for (const t of asked) if (!mayRead(reader, t)) throw new CandorError('permission_denied', `auditor ${reader.id} may not read tenant ${JSON.stringify(t)}`);
    return [...asked];
  }
  return reader.tenants.includes('*') ? undefined : [...reader.tenants];
}
