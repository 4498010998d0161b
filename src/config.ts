/**
 * Configuration: defaults, then an optional YAML (or JSON) file, then CANDOR_* environment
 * variables, then command-line flags. Every value is validated here and a bad one is reported
 * with the name of its key.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { CandorError } from './core/errors.js';
import { DEFAULTS } from './log/sequencer.js';
import { parseWitnessingConfig, type WitnessingConfig } from './witnessing/config.js';

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
  /** Log searches, exports and timeline reads as audit-of-audit events (docs/export.md); on by default. */
  auditReads: boolean;
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
  auditReads: true,
};

/** Config keys, their environment variable, and their type. */
const FIELDS: Record<keyof Config, { env: string; type: 'string' | 'int' | 'list' | 'witnessing' | 'bool' }> = {
  data: { env: 'CANDOR_DATA', type: 'string' },
  http: { env: 'CANDOR_HTTP', type: 'string' },
  origin: { env: 'CANDOR_ORIGIN', type: 'string' },
  keys: { env: 'CANDOR_KEYS', type: 'list' },
  batchMaxEntries: { env: 'CANDOR_BATCH_MAX_ENTRIES', type: 'int' },
  batchMaxDelayMs: { env: 'CANDOR_BATCH_MAX_DELAY_MS', type: 'int' },
  queueMaxEntries: { env: 'CANDOR_QUEUE_MAX_ENTRIES', type: 'int' },
  queueMaxBytes: { env: 'CANDOR_QUEUE_MAX_BYTES', type: 'int' },
  cacheBytes: { env: 'CANDOR_CACHE_BYTES', type: 'int' },
  logLevel: { env: 'CANDOR_LOG_LEVEL', type: 'string' },
  witnessing: { env: 'CANDOR_WITNESSING', type: 'witnessing' },
  grpc: { env: 'CANDOR_GRPC', type: 'string' },
  grpcTlsCert: { env: 'CANDOR_GRPC_TLS_CERT', type: 'string' },
  grpcTlsKey: { env: 'CANDOR_GRPC_TLS_KEY', type: 'string' },
  grpcTlsClientCa: { env: 'CANDOR_GRPC_TLS_CLIENT_CA', type: 'string' },
  auditReads: { env: 'CANDOR_AUDIT_READS', type: 'bool' },
};

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
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    bad(key, source, 'must be true or false');
  }
  if (type === 'witnessing') return parseWitnessingConfig(value, `config ${key}`, source);
  if (type === 'list') {
    if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) bad(key, source, 'must be a list of strings');
    return value;
  }
  if (typeof value !== 'string' || value === '') bad(key, source, 'must be a non-empty string');
  return value;
}

function merge(into: Partial<Config>, values: Record<string, unknown>, source: string): void {
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    if (!(k in FIELDS)) bad(k, source, `is not a known key (known: ${Object.keys(FIELDS).join(', ')})`);
    (into as Record<string, unknown>)[k] = coerce(k as keyof Config, v, source);
  }
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Partial<Record<keyof Config, unknown>> }): Config {
  const cfg: Partial<Config> = { ...CONFIG_DEFAULTS };
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
    merge(cfg, (parsed ?? {}) as Record<string, unknown>, file);
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(FIELDS)) if (env[f.env] !== undefined) fromEnv[k] = env[f.env];
  merge(cfg, fromEnv, 'environment');
  merge(cfg, (opts.flags ?? {}) as Record<string, unknown>, 'flags');
  const c = cfg as Config;
  parseHostPort(c.http);
  if (c.batchMaxEntries < 1) bad('batchMaxEntries', 'config', 'must be at least 1');
  if (c.queueMaxEntries < 1) bad('queueMaxEntries', 'config', 'must be at least 1');
  if (c.grpc !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):[0-9]{1,5}$/.test(c.grpc)) bad('grpc', 'config', `must be HOST:PORT (for example 127.0.0.1:8081), got "${c.grpc}"`);
  if ((c.grpcTlsCert === undefined) !== (c.grpcTlsKey === undefined)) bad('grpcTlsCert', 'config', 'and grpcTlsKey must be given together');
  if (c.grpcTlsClientCa !== undefined && c.grpcTlsCert === undefined) bad('grpcTlsClientCa', 'config', 'needs grpcTlsCert and grpcTlsKey (mutual TLS runs over TLS)');
  return c;
}

export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):([0-9]{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new CandorError('invalid_argument', `config http must be HOST:PORT (for example 127.0.0.1:8080), got "${s}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
