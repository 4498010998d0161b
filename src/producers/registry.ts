/**
 * The producer registry: who may write events, how each producer proves who it is, and what it
 * may write. Kept in <data>/producers.json, written only by `candor producer ...` (src/producers/
 * cli.ts), re-read by a running log within a second of a change, so that revoking a token or a
 * key takes effect without a restart.
 *
 * A producer (an access gateway) has:
 *  - an ID, recorded in every leaf it writes;
 *  - credentials: bearer tokens (stored as SHA-256 hashes; a token is 256 random bits, so a
 *    plain hash is as strong as a slow one and costs a microsecond per request) and/or mutual-TLS
 *    identities (a client certificate's "CN=<common name>" or one of its subjectAltName entries
 *    as Node prints them, e.g. "URI:spiffe://example.org/gw-1" or "DNS:gw-1.example.org"). Every
 *    kind of credential a producer has registered must be presented: a producer with both a token
 *    and a certificate identity needs both on each request;
 *  - scopes: the tenants and event types it may write ("*", exact names, or "review.*");
 *  - Ed25519 verifier keys (golang.org/x/mod note format, named after the producer). A producer
 *    with keys must sign its events; one without may not;
 *  - optionally its own rate limit and daily quota (limits.ts), instead of the log's defaults.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { CandorError, invalid } from '@candor/core/errors';
import { SIG_ED25519, parseVerifierKey, type NoteVerifier } from '@candor/core/note';
import { nodeEd25519 } from '../crypto/node.js';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { isValidTypePattern, typeMatches } from '@candor/schema/types';
import { fileStamp, updateJsonFile, watchFile } from '../storage/jsonfile.js';

export const REGISTRY_FILE = 'producers.json';
export const TOKEN_PREFIX = 'candor_pt_';
/** The producer ID of events the log writes itself (AuthMethod.LOG): no producer may register it. */
export const LOG_PRODUCER_ID = 'candor';

export interface TokenRecord {
  /** Public ID, for listing and revoking. */
  id: string;
  /** base64 SHA-256 of the token. */
  sha256: string;
  created: string;
}

export interface ProducerRecord {
  id: string;
  description?: string;
  tenants: string[];
  eventTypes: string[];
  tokens: TokenRecord[];
  mtls: string[];
  keys: string[];
  disabled: boolean;
  created: string;
  /** Events per second and burst; absent: the log's default (config producerEventsPerSecond). */
  rateLimit?: { eventsPerSecond: number; burst: number };
  /** Events per UTC day; absent: the log's default (config producerDailyQuota); 0: none. */
  dailyQuota?: number;
}

export interface RegistryDocument {
  version: 1;
  producers: ProducerRecord[];
}

/** What a transport learned about the caller (bearerCredentials parses the header). */
export interface Credentials {
  /** The bearer token, without "Bearer ". */
  token?: string;
  /** Identities of a client certificate that the TLS layer verified (see peerIdentities). */
  peerIdentities?: readonly string[];
  /** Set by a transport that got an unusable authorization header: why. */
  malformed?: string;
}

export interface Producer {
  readonly id: string;
  readonly record: ProducerRecord;
  /** The producer's keys by signed-note key ID. */
  readonly verifiers: ReadonlyMap<number, NoteVerifier>;
  readonly signatureRequired: boolean;
}

export interface AuthenticatedProducer {
  producer: Producer;
  method: AuthMethod;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64');
}

/** A new bearer token (256 random bits after `prefix`) and its record; the token is shown once and never stored. */
export function newToken(prefix = TOKEN_PREFIX): { token: string; record: TokenRecord } {
  const token = prefix + randomBytes(32).toString('base64url');
  return { token, record: { id: randomBytes(4).toString('hex'), sha256: hashToken(token), created: new Date().toISOString() } };
}

/** The identities a verified client certificate offers: "CN=<cn>" and its subjectAltName entries. */
export function peerIdentities(cert: PeerCertificate | undefined): string[] {
  if (!cert || !cert.subject) return [];
  const out: string[] = [];
  const cn = cert.subject.CN;
  if (typeof cn === 'string' && cn !== '') out.push(`CN=${cn}`);
  if (cert.subjectaltname) for (const s of cert.subjectaltname.split(', ')) if (s) out.push(s);
  return out;
}

/** Checks one producer record; `where` names it in errors. */
export function checkProducerRecord(p: ProducerRecord, where = `producer ${JSON.stringify(p.id)}`): Producer {
  const bad = (why: string): never => {
    throw invalid(`${where}: ${why}`);
  };
  if (typeof p.id !== 'string' || !ID_RE.test(p.id)) bad('the ID must be 1 to 128 characters from A-Z a-z 0-9 . _ : / @ - (starting with a letter or digit)');
  if (p.id === LOG_PRODUCER_ID) bad(`the ID ${JSON.stringify(LOG_PRODUCER_ID)} is reserved for events the log writes itself`);
  const strings = (v: unknown, name: string): string[] => {
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '')) bad(`${name} must be a list of non-empty strings`);
    return v as string[];
  };
  if (strings(p.tenants, 'tenants').length === 0) bad('no tenants: give --tenant (or "*")');
  if (strings(p.eventTypes, 'eventTypes').length === 0) bad('no event types: give --type (or "*")');
  for (const t of p.eventTypes) if (!isValidTypePattern(t)) bad(`event type ${JSON.stringify(t)} is not a known type, a known "prefix.*", or "*"`);
  strings(p.mtls, 'mtls');
  strings(p.keys, 'keys');
  if (!Array.isArray(p.tokens)) bad('tokens must be a list');
  if (p.rateLimit !== undefined) {
    const r = p.rateLimit as Partial<ProducerRecord['rateLimit'] & object>;
    if (typeof r !== 'object' || r === null) bad('rateLimit must be {eventsPerSecond, burst}');
    if (typeof r.eventsPerSecond !== 'number' || !(r.eventsPerSecond >= 0) || !Number.isFinite(r.eventsPerSecond)) bad('rateLimit.eventsPerSecond must be a number ≥ 0 (0: no limit)');
    if (!Number.isSafeInteger(r.burst) || r.burst! < 1) bad('rateLimit.burst must be an integer ≥ 1');
  }
  if (p.dailyQuota !== undefined && (!Number.isSafeInteger(p.dailyQuota) || p.dailyQuota < 0)) bad('dailyQuota must be an integer ≥ 0 (0: no quota)');
  // No credentials at all is allowed (the last token revoked in an emergency): nobody can then
  // authenticate as the producer.
  const verifiers = new Map<number, NoteVerifier>();
  for (const k of p.keys) {
    let v: NoteVerifier;
    try {
      v = parseVerifierKey(k, nodeEd25519);
    } catch (err) {
      return bad(`key ${JSON.stringify(k)}: ${(err as Error).message}`);
    }
    if (v.type !== SIG_ED25519) bad(`key ${JSON.stringify(k)} is not an Ed25519 key`);
    if (v.name !== p.id) bad(`key ${JSON.stringify(k)} is named ${JSON.stringify(v.name)}; a producer's keys must be named after it`);
    if (verifiers.has(v.keyId)) bad(`two keys share key ID ${v.keyId.toString(16).padStart(8, '0')}`);
    verifiers.set(v.keyId, v);
  }
  return { id: p.id, record: p, verifiers, signatureRequired: verifiers.size > 0 };
}

/** Parses and checks a whole registry document. */
export function checkRegistry(doc: unknown, file: string): RegistryDocument {
  const d = doc as RegistryDocument;
  if (!d || typeof d !== 'object' || d.version !== 1 || !Array.isArray(d.producers)) {
    throw invalid(`${file} is not a Candor producer registry (version 1)`);
  }
  const ids = new Set<string>();
  const identities = new Map<string, string>();
  for (const p of d.producers) {
    checkProducerRecord(p, `${file}: producer ${JSON.stringify(p.id)}`);
    if (ids.has(p.id)) throw invalid(`${file}: producer ${JSON.stringify(p.id)} is registered twice`);
    ids.add(p.id);
    for (const m of p.mtls) {
      const other = identities.get(m);
      if (other !== undefined) throw invalid(`${file}: mTLS identity ${JSON.stringify(m)} belongs to both ${other} and ${p.id}`);
      identities.set(m, p.id);
    }
  }
  return d;
}

export function readRegistryFile(file: string): RegistryDocument {
  if (!existsSync(file)) return { version: 1, producers: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw invalid(`cannot read ${file}: ${(err as Error).message}`);
  }
  return checkRegistry(doc, file);
}

/** Changes the registry file atomically, under a lock (src/storage/jsonfile.ts). */
export function updateRegistryFile<T>(file: string, change: (doc: RegistryDocument) => T): T {
  return updateJsonFile(file, 'producer', readRegistryFile, checkRegistry, change);
}

function unauthenticated(message: string): CandorError {
  return new CandorError('unauthenticated', message);
}

/**
 * The registry a running log authenticates against. Lookups are in memory; the file is re-read
 * when it changes (checked once a second), and a bad file keeps the previous registry in force.
 */
export class ProducerRegistry {
  readonly file: string;
  #byId = new Map<string, Producer>();
  #byToken = new Map<string, Producer>();
  #byIdentity = new Map<string, Producer>();
  #stamp = '';
  #timer: NodeJS.Timeout | undefined;

  private constructor(file: string) {
    this.file = file;
  }

  /** Loads the registry (an absent file is an empty registry: every write is unauthenticated). */
  static open(file: string, opts: { watchMs?: number; onReloadError?: (err: unknown) => void } = {}): ProducerRegistry {
    const r = new ProducerRegistry(file);
    r.reload();
    r.#timer = watchFile(() => r.reload(), opts);
    return r;
  }

  /** Re-reads the file if it changed since the last load. */
  reload(force = false): void {
    const stamp = fileStamp(this.file);
    if (!force && stamp === this.#stamp) return;
    const doc = readRegistryFile(this.file);
    const byId = new Map<string, Producer>();
    const byToken = new Map<string, Producer>();
    const byIdentity = new Map<string, Producer>();
    for (const rec of doc.producers) {
      const p = checkProducerRecord(rec);
      byId.set(p.id, p);
      for (const t of rec.tokens) byToken.set(t.sha256, p);
      for (const m of rec.mtls) byIdentity.set(m, p);
    }
    this.#byId = byId;
    this.#byToken = byToken;
    this.#byIdentity = byIdentity;
    this.#stamp = stamp;
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): Producer | undefined {
    return this.#byId.get(id);
  }

  /** Who is calling, from the credentials a transport extracted; unauthenticated if nobody. */
  authenticate(c: Credentials): AuthenticatedProducer {
    if (c.malformed !== undefined) throw unauthenticated(c.malformed);
    let byToken: Producer | undefined;
    if (c.token !== undefined) {
      byToken = this.#byToken.get(hashToken(c.token));
      if (!byToken) throw unauthenticated('the bearer token is not valid (unknown or revoked)');
    }
    let byCert: Producer | undefined;
    for (const id of c.peerIdentities ?? []) {
      byCert = this.#byIdentity.get(id);
      if (byCert) break;
    }
    const p = byToken ?? byCert;
    if (!p) {
      if (c.peerIdentities && c.peerIdentities.length > 0) {
        throw unauthenticated(`the client certificate (${c.peerIdentities.join(', ')}) is not registered for any producer`);
      }
      throw unauthenticated('no credentials: send "authorization: Bearer <token>" or a client certificate');
    }
    if (byToken && byCert && byToken !== byCert) {
      throw unauthenticated(`the bearer token is ${byToken.id}'s but the client certificate is ${byCert.id}'s`);
    }
    if (p.record.mtls.length > 0 && !byCert) throw unauthenticated(`producer ${p.id} must present its client certificate (mutual TLS)`);
    if (p.record.tokens.length > 0 && !byToken) throw unauthenticated(`producer ${p.id} must send its bearer token`);
    if (p.record.disabled) throw new CandorError('permission_denied', `producer ${p.id} is disabled`);
    const method = byToken && byCert ? AuthMethod.MTLS_AND_BEARER_TOKEN : byToken ? AuthMethod.BEARER_TOKEN : AuthMethod.MTLS;
    return { producer: p, method };
  }

  /** Checks that a producer may write an event of `type` for `tenant`; `path` names the event. */
  static authorize(p: Producer, tenant: string, type: string, path: string): void {
    const r = p.record;
    if (!r.tenants.some((t) => t === '*' || t === tenant)) {
      throw new CandorError('permission_denied', `${path}.tenant_id: producer ${p.id} may not write for tenant ${JSON.stringify(tenant)}`);
    }
    if (!r.eventTypes.some((t) => typeMatches(t, type))) {
      throw new CandorError('permission_denied', `${path}.type: producer ${p.id} may not write ${JSON.stringify(type)} events`);
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Credentials from an `authorization` header value ("Bearer <token>") and a client certificate. */
export function bearerCredentials(authorization: string | undefined, cert?: PeerCertificate): Credentials {
  const c: Credentials = { peerIdentities: peerIdentities(cert) };
  if (authorization !== undefined) {
    const m = /^Bearer +([A-Za-z0-9._~+/=-]+) *$/i.exec(authorization);
    if (m) c.token = m[1]!;
    else c.malformed = 'the authorization header must be "Bearer <token>"';
  }
  return c;
}
