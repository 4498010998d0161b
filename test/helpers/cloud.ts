// Options for a CloudStore on the test servers: a fresh bucket and PostgreSQL schema each call.
import { randomBytes } from 'node:crypto';
import type { CloudStoreOptions } from '../../src/storage/cloud/store.js';
import { postgresUrl, s3Config } from './services.js';

export function cloudOptions(): CloudStoreOptions {
  const c = s3Config();
  const id = randomBytes(5).toString('hex');
  return {
    bucket: `candor-${id}`,
    endpoint: c.endpoint,
    region: c.region,
    credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
    postgres: postgresUrl(),
    schema: `t_${id}`,
    createBucket: true,
  };
}
