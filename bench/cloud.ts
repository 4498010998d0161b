/**
 * The cloud driver (src/storage/cloud, issue 17) on loopback Ceph RGW + PostgreSQL, started by
 * `npm run services -- up`: acknowledged entries/s through the sequencer at batch 4096, beside two
 * ceilings measured in the same run: the bucket's raw PUT rate (8 KiB objects, 64 in flight) and
 * PostgreSQL's commit rate (one checkpoint-row UPDATE per transaction, one connection, as the
 * driver's compare-and-swap). PUTs per entry come from the driver's own count. Opt-in:
 * `npm run services -- up && (set -a; . .services/env; npm run bench -- cloud)` (the compiled bench
 * does not find .services/env by itself).
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { CloudStore } from '../src/storage/cloud/store.js';
import { cloudOptions } from '../test/helpers/cloud.js';
import { benchSequencer, fmt, headline, meta, otherLoad, quantile, saveResult, writeSection, type ResultMeta } from './lib.js';

const DURATION_MS = Number(process.env.BENCH_CLOUD_MS ?? 5000);
const BATCH = Number(process.env.BENCH_CLOUD_BATCH ?? 4096);

export interface CloudData extends ResultMeta {
  durationMs: number;
  batch: number;
  putsPerSec: number;
  pgCommitsPerSec: number;
  entriesPerSec: number;
  batchesPerSec: number;
  meanBatch: number;
  p50ms: number;
  p99ms: number;
  putsPerEntry: number;
}

async function putRate(): Promise<number> {
  const o = cloudOptions();
  const s3 = new S3Client({ endpoint: o.endpoint, region: o.region, credentials: o.credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  await s3.send(new CreateBucketCommand({ Bucket: o.bucket }));
  const body = randomBytes(8192);
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async (_, w) => {
      for (let i = 0; performance.now() - t0 < 3000; i++) {
        await s3.send(new PutObjectCommand({ Bucket: o.bucket, Key: `probe/${w}/${i}`, Body: body }));
        n++;
      }
    }),
  );
  s3.destroy();
  return n / ((performance.now() - t0) / 1000);
}

async function pgCommitRate(): Promise<number> {
  const o = cloudOptions();
  const client = new pg.Client({ connectionString: o.postgres });
  await client.connect();
  await client.query(`CREATE SCHEMA ${o.schema!}; CREATE TABLE ${o.schema!}.checkpoint (id int PRIMARY KEY, note text NOT NULL); INSERT INTO ${o.schema!}.checkpoint VALUES (1, '0')`);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 3000) {
    await client.query('BEGIN');
    await client.query(`UPDATE ${o.schema!}.checkpoint SET note = $1 WHERE id = 1 AND note = $2`, [String(n + 1), String(n)]);
    await client.query('COMMIT');
    n++;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await client.query(`DROP SCHEMA ${o.schema!} CASCADE`);
  await client.end();
  return rate;
}

async function ingest(): Promise<Omit<CloudData, keyof ResultMeta | 'durationMs' | 'batch' | 'putsPerSec' | 'pgCommitsPerSec'>> {
  const store = await CloudStore.open(cloudOptions());
  const seq = await benchSequencer(store, { maxBatch: BATCH, maxDelayMs: 0, maxQueue: 4 * BATCH });
  let batches = 0;
  seq.on('checkpoint', () => batches++);
  const prefix = randomBytes(56);
  let next = 0;
  const entry = () => {
    const e = Buffer.allocUnsafe(64);
    prefix.copy(e);
    e.writeDoubleBE(next++, 56);
    return e;
  };
  const lat: number[] = [];
  let acked = 0;
  const puts0 = store.puts;
  const b0 = batches;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 2 * BATCH + 64 }, async () => {
      while (performance.now() - t0 < DURATION_MS) {
        const s = performance.now();
        await seq.submit(entry());
        lat.push(performance.now() - s);
        acked++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const puts = store.puts - puts0;
  await seq.close();
  await store.close();
  lat.sort((a, b) => a - b);
  const n = batches - b0;
  return { entriesPerSec: acked / secs, batchesPerSec: n / secs, meanBatch: acked / Math.max(1, n), p50ms: quantile(lat, 0.5), p99ms: quantile(lat, 0.99), putsPerEntry: puts / acked };
}

export function cloudSection(d: CloudData): string {
  return `${headline(d, `batch ${d.batch}, ${d.durationMs / 1000} s of closed-loop submitters (2 × batch + 64), loopback Ceph RGW 16 + PostgreSQL 15 from \`npm run services -- up\``)}

| | rate |
|---|---:|
| acknowledged entries/s through the sequencer on the cloud driver | ${fmt(d.entriesPerSec)} |
| commits (batches)/s, mean batch | ${fmt(d.batchesPerSec, 1)}, ${fmt(d.meanBatch)} |
| acknowledgement latency p50 / p99 | ${fmt(d.p50ms)} ms / ${fmt(d.p99ms)} ms |
| object PUTs per entry | ${d.putsPerEntry.toFixed(4)} |
| ceiling: bucket raw PUTs/s (8 KiB, 64 in flight) | ${fmt(d.putsPerSec)} |
| ceiling: PostgreSQL CAS commits/s (one connection) | ${fmt(d.pgCommitsPerSec)} |
| commits/s as a share of the PG ceiling | ${((100 * d.batchesPerSec) / d.pgCommitsPerSec).toFixed(1)} % |
| PUTs/s used (entries/s × PUTs/entry) as a share of the PUT ceiling | ${((100 * d.entriesPerSec * d.putsPerEntry) / d.putsPerSec).toFixed(1)} % |

Each commit is sequential: stage (one PUT), the PostgreSQL CAS with the batch's leaf-index rows, then the tiles, bundles and interiors in parallel, then the checkpoint (a GET and a conditional PUT) and the staging DELETE. Nothing is pipelined yet (issue 17 expects publishing batch N while N+1 is staged).`;
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const putsPerSec = await putRate();
  const pgCommitsPerSec = await pgCommitRate();
  const run = await ingest();
  const data: CloudData = { ...meta('cloud', 'npm run services -- up && (set -a; . .services/env; npm run bench -- cloud)', before, await otherLoad()), durationMs: DURATION_MS, batch: BATCH, putsPerSec, pgCommitsPerSec, ...run };
  saveResult('cloud', data);
  writeSection('Cloud driver', cloudSection(data));
  console.log(cloudSection(data));
}
