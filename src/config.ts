/**
 * Configuration: defaults, then an optional YAML (or JSON) file, then CANDOR_* environment
 * variables, then command-line flags. Every value is validated here and a bad one is reported
 * with the name of its key.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CandorError } from '@candor/core/errors';
import { DEFAULTS } from './log/sequencer.js';
import { parseWitnessingConfig, type WitnessingConfig } from './witnessing/config.js';
import { parseStorageConfig, type StorageConfig } from './storage/open.js';

export interface Config {
  /** Data directory: keys and the store. */
  data: string;
  /** HTTP listen address, host:port. */
  http: string;
  /** Log origin (also the key name); fixed by the key once created. */
  origin?: string;
  /** Signer key files; default <data>/log.key, created on first start. */
  keys: string[];
  batchMaxEntries: number;
  batchMaxDelayMs: number;
  queueMaxEntries: number;
  queueMaxBytes: number;
  /** Memory for cached tiles, in bytes. */
  cacheBytes: number;
  logLevel: string;
  /** Witness policy and log-side witnessing (docs/witnessing.md); none by default. */
  witnessing?: WitnessingConfig;
  /** gRPC listen address, host:port (event ingestion, docs/ingestion.md); off when unset. */
  grpc?: string;
  /** TLS for gRPC: certificate and key (PEM files), and a CA for client certificates (mTLS). */
  grpcTlsCert?: string;
  grpcTlsKey?: string;
  grpcTlsClientCa?: string;
  /** The largest gRPC request message, in bytes (src/grpc/server.ts DEFAULT_MAX_MESSAGE_BYTES). */
  grpcMaxMessageBytes: number;
  /** TLS for HTTP: certificate and key (PEM files), and a CA for client certificates (mTLS). */
  httpTlsCert?: string;
  httpTlsKey?: string;
  httpTlsClientCa?: string;
  /** Admin listener, host:port (docs/security.md); off when unset. Loopback is recommended. */
  admin?: string;
  /** Default per-producer limits (src/producers/limits.ts); 0 turns each off. */
  producerEventsPerSecond?: number;
  producerBurst?: number;
  producerDailyQuota?: number;
  /**
   * The privacy master key file, which wraps the openings store's data keys (docs/privacy.md);
   * default <data>/privacy.key, created (mode 0600) on first start. A configured file must exist.
   */
  privacyKeyFile?: string;
  /**
   * Search indexes, written in the same batch as the tree (docs/search.md); default on. Turning
   * them on for a log that ran without them needs `candor index rebuild`.
   */
  indexes: boolean;
  /** Log searches, exports and timeline reads as audit-of-audit events (docs/export.md); on by default. */
  auditReads: boolean;
  /** Where the log's tiles, entries and checkpoint live (docs/deployment.md); default the embedded LevelDB store. */
  storage: StorageConfig;
  /** Entries (every tenant's events) to anyone, not only to auditors with read-log (docs/security.md); off by default. */
  publicEntries: boolean;
}

export const CONFIG_DEFAULTS: Config = {
  data: './data',
  http: '127.0.0.1:8080',
  keys: [],
  batchMaxEntries: DEFAULTS.maxBatch,
  batchMaxDelayMs: DEFAULTS.maxDelayMs,
  queueMaxEntries: DEFAULTS.maxQueue,
  queueMaxBytes: DEFAULTS.maxQueueBytes,
  cacheBytes: 64 * 1024 * 1024,
  logLevel: 'info',
  grpcMaxMessageBytes: 16 * 1024 * 1024,
  producerEventsPerSecond: 0,
  producerBurst: 0,
  producerDailyQuota: 0,
  indexes: true,
  auditReads: true,
  storage: { driver: 'level' },
  publicEntries: false,
};

/**
 * The schema: one row per key. `env` and `flag` name the environment variable and the `candor
 * serve` flag; `secret` marks a key whose value is the path of a file holding a secret (a signer
 * key, a TLS key): the value itself is never accepted, printed or logged. `doc` and `default`
 * feed docs/configuration.md (`candor config docs`), so the documentation is generated from here.
 */
export interface ConfigField {
  env: string;
  type: 'string' | 'int' | 'bool' | 'list' | 'witnessing' | 'storage';
  flag?: string;
  secret?: true;
  doc?: string;
  /** The default as documented, when CONFIG_DEFAULTS does not say it well. */
  default?: string;
}

export const FIELDS: Record<keyof Config, ConfigField> = {
  data: { env: 'CANDOR_DATA', type: 'string', flag: '--data', doc: 'Data directory: keys, the store, producers.json.' },
  http: { env: 'CANDOR_HTTP', type: 'string', flag: '--http', doc: 'HTTP listen address, HOST:PORT.' },
  origin: { env: 'CANDOR_ORIGIN', type: 'string', flag: '--origin', doc: 'Log origin for a new log; fixed by the key afterwards.', default: 'candor.localhost/<random>' },
  keys: { env: 'CANDOR_KEYS', type: 'list', flag: '--key', secret: true, doc: 'Signer key files (comma-separated in the environment, repeatable flag); several sign side by side (rotation).', default: '<data>/log.key, created' },
  batchMaxEntries: { env: 'CANDOR_BATCH_MAX_ENTRIES', type: 'int', flag: '--batch-max-entries', doc: 'A batch closes at this many entries.' },
  batchMaxDelayMs: { env: 'CANDOR_BATCH_MAX_DELAY_MS', type: 'int', flag: '--batch-max-delay-ms', doc: 'A batch closes after this many ms (0: at once; batches grow under load).' },
  queueMaxEntries: { env: 'CANDOR_QUEUE_MAX_ENTRIES', type: 'int', flag: '--queue-max-entries', doc: 'Entries queued before new submissions get 503.' },
  queueMaxBytes: { env: 'CANDOR_QUEUE_MAX_BYTES', type: 'int', doc: 'Bytes queued before new submissions get 503.' },
  cacheBytes: { env: 'CANDOR_CACHE_BYTES', type: 'int', doc: 'Memory for cached tiles (proofs), in bytes.' },
  logLevel: { env: 'CANDOR_LOG_LEVEL', type: 'string', flag: '--log-level', doc: 'pino level: fatal, error, warn, info, debug, trace, silent.' },
  witnessing: { env: 'CANDOR_WITNESSING', type: 'witnessing', doc: 'Witness policy and witnessing settings (docs/witnessing.md); JSON or YAML in the environment.', default: 'off' },
  grpc: { env: 'CANDOR_GRPC', type: 'string', flag: '--grpc', doc: 'gRPC listen address, HOST:PORT (event ingestion).', default: 'off' },
  grpcTlsCert: { env: 'CANDOR_GRPC_TLS_CERT', type: 'string', flag: '--grpc-tls-cert', doc: 'TLS certificate for gRPC (PEM file).', default: 'plaintext' },
  grpcTlsKey: { env: 'CANDOR_GRPC_TLS_KEY', type: 'string', flag: '--grpc-tls-key', secret: true, doc: 'TLS private key for gRPC (PEM file).', default: 'plaintext' },
  grpcTlsClientCa: { env: 'CANDOR_GRPC_TLS_CLIENT_CA', type: 'string', flag: '--grpc-tls-client-ca', doc: 'CA for producer client certificates: turns on mutual TLS.', default: 'off' },
  grpcMaxMessageBytes: { env: 'CANDOR_GRPC_MAX_MESSAGE_BYTES', type: 'int', doc: 'The largest gRPC request message; larger ones are refused (INVALID_ARGUMENT) as they arrive. The default holds a batch of 256 events of the largest size (60 KiB), or 4096 events of up to 4 KiB.' },
  httpTlsCert: { env: 'CANDOR_HTTP_TLS_CERT', type: 'string', flag: '--http-tls-cert', doc: 'TLS certificate for HTTP (PEM file): serves HTTPS.', default: 'plaintext' },
  httpTlsKey: { env: 'CANDOR_HTTP_TLS_KEY', type: 'string', flag: '--http-tls-key', secret: true, doc: 'TLS private key for HTTP (PEM file).', default: 'plaintext' },
  httpTlsClientCa: { env: 'CANDOR_HTTP_TLS_CLIENT_CA', type: 'string', flag: '--http-tls-client-ca', doc: 'CA for producer client certificates over HTTP: turns on mutual TLS.', default: 'off' },
  admin: { env: 'CANDOR_ADMIN', type: 'string', flag: '--admin', doc: 'Admin listener, HOST:PORT: /metrics and admin routes move there (docs/security.md). Keep it on loopback.', default: 'off' },
  producerEventsPerSecond: { env: 'CANDOR_PRODUCER_EVENTS_PER_SECOND', type: 'int', doc: 'Default events/s per producer (token bucket); 0: no limit. producers.json may override per producer.' },
  producerBurst: { env: 'CANDOR_PRODUCER_BURST', type: 'int', doc: 'Default burst per producer, in events; 0: one second of the rate.' },
  producerDailyQuota: { env: 'CANDOR_PRODUCER_DAILY_QUOTA', type: 'int', doc: 'Default events per producer per UTC day; 0: no quota.' },
  privacyKeyFile: { env: 'CANDOR_PRIVACY_KEY_FILE', type: 'string', secret: true, doc: 'Master key file wrapping the openings store\'s data keys (docs/privacy.md).', default: '<data>/privacy.key, created' },
  indexes: { env: 'CANDOR_INDEXES', type: 'bool', doc: 'Search indexes, written in the same batch as the tree (docs/search.md). Turning them on for a log that ran without them needs `candor index rebuild`.' },
  storage: {
    env: 'CANDOR_STORAGE',
    type: 'storage',
    doc: 'Storage driver: {driver: level} (embedded LevelDB under <data>/db) or {driver: cloud, bucket, endpoint, region, postgres, schema} (S3-compatible bucket + PostgreSQL; needs indexes: false; docs/deployment.md). JSON in the environment.',
    default: 'level',
  },
  publicEntries: { env: 'CANDOR_PUBLIC_ENTRIES', type: 'bool', flag: '--public-entries', doc: 'Serve entries (GET /entries, GET /tile/entries/..., gRPC GetEntries: every tenant\'s events) to anyone. Off: only to auditors with the read-log permission; checkpoints, hash tiles and proofs are public either way (docs/security.md).' },
  auditReads: { env: 'CANDOR_AUDIT_READS', type: 'bool', doc: 'Log searches, timeline reads and exports by auditors as audit-of-audit events (docs/export.md).' },
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function bad(key: string, source: string, why: string): never {
  throw new CandorError('invalid_argument', `config ${key} (from ${source}) ${why}`);
}

function coerce(key: keyof Config, value: unknown, source: string): unknown {
  const { type } = FIELDS[key];
  if (type === 'int') {
    const n = typeof value === 'string' && /^[0-9]+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) bad(key, source, 'must be a non-negative integer');
    return n;
  }
  if (type === 'bool') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === '1' || value === 'on') return true;
    if (value === 'false' || value === '0' || value === 'off') return false;
    bad(key, source, 'must be true or false');
  }
  if (type === 'witnessing') return parseWitnessingConfig(value, `config ${key}`, source);
  if (type === 'storage') return parseStorageConfig(value, `config ${key} (from ${source})`);
  if (type === 'list') {
    if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) bad(key, source, 'must be a list of strings');
    return value;
  }
  if (typeof value !== 'string' || value === '') bad(key, source, 'must be a non-empty string');
  return value;
}

/** Key material pasted where a file path belongs: refused without echoing it. */
const SECRET_MATERIAL = /PRIVATE\+KEY\+|-----BEGIN|candor_pt_/;

function checkSecretPaths(key: keyof Config, value: unknown, source: string): void {
  for (const v of Array.isArray(value) ? value : [value]) {
    if (typeof v === 'string' && SECRET_MATERIAL.test(v)) {
      bad(key, source, 'must be the path of a file holding the secret, not the secret itself (the value is not shown)');
    }
  }
}

/** The known key closest to a mistyped one, if it is close enough to be the likely intent. */
function suggest(key: string): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of Object.keys(FIELDS)) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(k, key);
    if (d <= Math.max(1, Math.floor(k.length / 4)) && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function merge(into: Partial<Config>, values: Record<string, unknown>, source: string, sources?: Map<string, string>): void {
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    if (!(k in FIELDS)) {
      const near = suggest(k);
      bad(k, source, `is not a known key${near ? ` (did you mean ${near}?)` : ''} (known: ${Object.keys(FIELDS).join(', ')})`);
    }
    if (FIELDS[k as keyof Config].secret) checkSecretPaths(k as keyof Config, v, source);
    (into as Record<string, unknown>)[k] = coerce(k as keyof Config, v, source);
    sources?.set(k, source);
  }
}

/**
 * Loads and validates the configuration. `sources`, when given, receives where each key that is
 * not a default came from (the file name, "environment" or "flags"), for `candor config check`.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<Record<keyof Config, unknown>>; sources?: Map<string, string> }): Config {
  const cfg: Partial<Config> = { ...CONFIG_DEFAULTS };
  const sources = opts.sources ?? new Map<string, string>();
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.CANDOR_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new CandorError('invalid_argument', `cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new CandorError('invalid_argument', `config file ${file} must hold a mapping of keys to values`);
    }
    merge(cfg, (parsed ?? {}) as Record<string, unknown>, file, sources);
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(FIELDS)) if (env[f.env] !== undefined) fromEnv[k] = env[f.env];
  merge(cfg, fromEnv, 'environment', sources);
  merge(cfg, (opts.flags ?? {}) as Record<string, unknown>, 'flags', sources);
  const c = cfg as Config;
  parseHostPort(c.http);
  if (c.batchMaxEntries < 1) bad('batchMaxEntries', 'config', 'must be at least 1');
  if (c.queueMaxEntries < 1) bad('queueMaxEntries', 'config', 'must be at least 1');
  if (!LOG_LEVELS.includes(c.logLevel)) bad('logLevel', sources.get('logLevel') ?? 'config', `must be one of ${LOG_LEVELS.join(', ')}`);
  if (c.grpc !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):[0-9]{1,5}$/.test(c.grpc)) bad('grpc', 'config', `must be HOST:PORT (for example 127.0.0.1:8081), got "${c.grpc}"`);
  if ((c.grpcTlsCert === undefined) !== (c.grpcTlsKey === undefined)) bad('grpcTlsCert', 'config', 'and grpcTlsKey must be given together');
  if (c.grpcTlsClientCa !== undefined && c.grpcTlsCert === undefined) bad('grpcTlsClientCa', 'config', 'needs grpcTlsCert and grpcTlsKey (mutual TLS runs over TLS)');
  if ((c.httpTlsCert === undefined) !== (c.httpTlsKey === undefined)) bad('httpTlsCert', 'config', 'and httpTlsKey must be given together');
  if (c.httpTlsClientCa !== undefined && c.httpTlsCert === undefined) bad('httpTlsClientCa', 'config', 'needs httpTlsCert and httpTlsKey (mutual TLS runs over TLS)');
  if (c.grpcMaxMessageBytes < 64 * 1024) bad('grpcMaxMessageBytes', sources.get('grpcMaxMessageBytes') ?? 'config', 'must be at least 65536 (one event of the largest size, with its framing)');
  if (c.admin !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):[0-9]{1,5}$/.test(c.admin)) bad('admin', 'config', `must be HOST:PORT (for example 127.0.0.1:8090), got "${c.admin}"`);
  if (c.storage.driver === 'cloud' && c.indexes) {
    bad('indexes', sources.get('indexes') ?? 'default', 'must be false with storage driver cloud: the search indexes live only in the embedded LevelDB store for now (docs/deployment.md)');
  }
  return c;
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):([0-9]{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new CandorError('invalid_argument', `config http must be HOST:PORT (for example 127.0.0.1:8080), got "${s}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
