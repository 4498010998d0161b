/**
 * Opens the LogStore the configuration names: the embedded LevelDB store (the default) or the
 * cloud driver (an S3-compatible bucket + PostgreSQL, docs/deployment.md). Nothing above
 * src/storage names a driver. The cloud driver is imported only when configured, so the embedded
 * mode never loads the S3 and PostgreSQL clients.
 */
import { join } from 'node:path';
import { CandorError } from '@candor/core/errors';
import { LevelStore, type LevelStoreOptions } from './level.js';
import type { LeaderLease } from './lease.js';
import type { LogStore } from './store.js';

/** The `storage` configuration key. */
export type StorageConfig =
  | { driver: 'level' }
  | {
      driver: 'cloud';
      bucket: string;
      /** S3 endpoint URL; omitted: AWS S3 in `region`. */
      endpoint?: string;
      region: string;
      /** PostgreSQL connection string (a password is better given as PGPASSWORD). */
      postgres: string;
      /** PostgreSQL schema for this log's tables; default "candor". */
      schema?: string;
      /** High availability: how long the leader lease lasts unrenewed, ms (default LEASE_MS). */
      leaseMs?: number;
      /** High availability: the URL other nodes forward writes to (default: this node's HTTP URL). */
      advertise?: string;
    };

/** The leader lease's default duration: a dead leader is replaced about this long after it died. */
export const LEASE_MS = 2000;

const CLOUD_KEYS = ['driver', 'bucket', 'endpoint', 'region', 'postgres', 'schema', 'leaseMs', 'advertise'];

/** Validates the `storage` key (a mapping from the config file, or JSON in CANDOR_STORAGE). */
export function parseStorageConfig(value: unknown, where: string): StorageConfig {
  let v = value;
  const bad = (why: string): never => {
    throw new CandorError('invalid_argument', `${where} ${why}`);
  };
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      bad('must be a mapping (JSON in the environment), for example {"driver":"cloud","bucket":"b","region":"us-east-1","postgres":"postgres://..."}');
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad('must be a mapping with a driver (level or cloud)');
  const o = v as Record<string, unknown>;
  if (o.driver === 'level') {
    const extra = Object.keys(o).filter((k) => k !== 'driver');
    if (extra.length) bad(`.${extra[0]} is not a key of the level driver (it has none but driver)`);
    return { driver: 'level' };
  }
  if (o.driver !== 'cloud') bad(`.driver must be "level" or "cloud", got ${JSON.stringify(o.driver)}`);
  for (const k of Object.keys(o)) if (!CLOUD_KEYS.includes(k)) bad(`.${k} is not a key of the cloud driver (known: ${CLOUD_KEYS.join(', ')})`);
  for (const k of ['bucket', 'region', 'postgres']) if (typeof o[k] !== 'string' || o[k] === '') bad(`.${k} is required for the cloud driver (a non-empty string)`);
  for (const k of ['endpoint', 'schema']) if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) bad(`.${k} must be a non-empty string`);
  if (o.endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(o.endpoint as string)) bad(`.endpoint must be an http:// or https:// URL, got ${JSON.stringify(o.endpoint)}`);
  if (o.leaseMs !== undefined && (!Number.isSafeInteger(o.leaseMs) || (o.leaseMs as number) < 500)) bad(`.leaseMs must be an integer of at least 500 (milliseconds), got ${JSON.stringify(o.leaseMs)}`);
  if (o.advertise !== undefined && (typeof o.advertise !== 'string' || !/^https?:\/\/[^\s]+$/.test(o.advertise))) bad(`.advertise must be an http:// or https:// URL, got ${JSON.stringify(o.advertise)}`);
  if (o.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(o.schema as string)) bad(`.schema must be a plain PostgreSQL identifier (a-z, 0-9, _), got ${JSON.stringify(o.schema)}`);
  return o as StorageConfig;
}

export interface OpenedStore {
  store: LogStore;
  /** The LevelDB store, which also holds the search indexes; undefined for the cloud driver. */
  level?: LevelStore;
}

/**
 * Opens the configured store. S3 credentials for the cloud driver come from the AWS SDK's default
 * chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an instance role).
 */
export async function openStore(storage: StorageConfig, dataDir: string, levelOptions: LevelStoreOptions = {}): Promise<OpenedStore> {
  if (storage.driver === 'level') {
    const level = await LevelStore.open(join(dataDir, 'db'), levelOptions);
    return { store: level, level };
  }
  const { CloudStore } = await import('./cloud/store.js');
  const { driver: _, leaseMs: __, advertise: ___, ...options } = storage;
  return { store: await CloudStore.open(options) };
}

/**
 * The leader lease of a store several nodes share (src/cluster/ha.ts), or undefined for a store
 * only one process may open (LevelDB locks its directory).
 */
export async function openLease(storage: StorageConfig): Promise<LeaderLease | undefined> {
  if (storage.driver === 'level') return undefined;
  const { PostgresLease } = await import('./cloud/lease.js');
  return PostgresLease.open(storage.postgres, storage.schema ?? 'candor');
}
