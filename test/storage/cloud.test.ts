// The cloud driver on the real Ceph RGW and PostgreSQL: a log served through it is verified from
// the bucket alone once the node is closed (c2sp.org/tlog-tiles, the project's own auditor), and
// a commit killed between staging and the compare-and-swap, or between the compare-and-swap and
// publishing, loses nothing: reopening publishes what PostgreSQL committed.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { GetObjectCommand, ListObjectsV2Command, PutBucketPolicyCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { utf8 } from '@candor/core/bytes';
import { parseVerifierKey } from '@candor/core/note';
import { fullAudit } from '../../clients/verify/audit.js';
import { checkOnce } from '../../clients/verify/monitor.js';
import { AuditorStore } from '../../clients/verify/store.js';
import { TileClient } from '../../clients/tiles/client.js';
import { CloudStore, type CloudStoreOptions } from '../../src/storage/cloud/store.js';
import { cloudOptions } from '../helpers/cloud.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';
import { postgresMissing, s3Missing } from '../helpers/services.js';
import { BatchMaker } from './conformance.js';

const skip = s3Missing() ?? postgresMissing();
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

function s3(o: CloudStoreOptions): S3Client {
  const c = new S3Client({ endpoint: o.endpoint, region: o.region, credentials: o.credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  cleanups.push(() => c.destroy());
  return c;
}

async function keys(c: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const r = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!);
}

async function object(c: S3Client, bucket: string, key: string): Promise<string> {
  return (await c.send(new GetObjectCommand({ Bucket: bucket, Key: key })).then((r) => r.Body!.transformToString()));
}

describe.skipIf(skip)(`the cloud driver${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('a log served on the cloud driver is verified from the bucket alone, with the node closed; a tampered tile is caught', async () => {
    const o = cloudOptions();
    const { credentials: _, createBucket: __, ...storage } = o;
    // The test's keys reach the SDK through its default chain, as in production.
    process.env.AWS_ACCESS_KEY_ID = o.credentials!.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = o.credentials!.secretAccessKey;
    const c = s3(o);
    await CloudStore.open(o).then((s) => s.close()); // creates the bucket
    const log = await startTestLog({ indexes: false, storage: { driver: 'cloud', ...storage } });
    cleanups.push(() => rmSync(log.dir, { recursive: true, force: true }));
    for (let i = 0; i < 1000; i += 250) await log.service.addMany(Array.from({ length: 250 }, (_, j) => utf8(`cloud entry ${i + j}`)));
    const size = log.sequencer.size;
    const vkey = log.keys.vkeys[0]!;
    await log.close();

    // Anonymous reads of the bucket, as a CDN or a monitor would make them.
    await c.send(
      new PutBucketPolicyCommand({
        Bucket: o.bucket,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${o.bucket}/*`] }] }),
      }),
    );
    const audit = async () => {
      const dir = tempDir();
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const store = await AuditorStore.open(dir);
      try {
        const m = { client: new TileClient(`${o.endpoint}/${o.bucket}`), store, logVerifiers: [parseVerifierKey(vkey)], evidenceDir: join(dir, 'evidence') };
        const r = await checkOnce(m);
        if (r.kind !== 'first') throw new Error(`monitor: ${JSON.stringify(r).slice(0, 300)}`);
        return await fullAudit({ client: m.client, store, checkpoint: r.checkpoint, note: r.note, evidenceDir: m.evidenceDir });
      } finally {
        await store.close();
      }
    };
    const good = await audit();
    expect(good).toMatchObject({ kind: 'complete', size });
    expect(size).toBeGreaterThanOrEqual(1000);
    expect(await keys(c, o.bucket, 'tile/entries/')).toContain('tile/entries/000');
    expect(await keys(c, o.bucket, '.candor/staging/')).toEqual([]);

    // One flipped byte in a published hash tile: the same audit must fail.
    const tile = await c.send(new GetObjectCommand({ Bucket: o.bucket, Key: 'tile/0/001' })).then((r) => r.Body!.transformToByteArray());
    tile[5]! ^= 1;
    await c.send(new PutObjectCommand({ Bucket: o.bucket, Key: 'tile/0/001', Body: tile }));
    expect((await audit()).kind).toBe('alarm');
  }, 60_000);

  test('killed between staging and the compare-and-swap: nothing moves; the writer goes on from the old checkpoint', async () => {
    const o = cloudOptions();
    const c = s3(o);
    const store = await CloudStore.open(o);
    const log = new BatchMaker();
    await log.commit(store, 300);
    const committed = log.checkpoint;
    store.crashAt = 'after-staging';
    await expect(log.commit(store, 50)).rejects.toThrow(/crash injected after staging/);
    await store.close();
    expect(await keys(c, o.bucket, '.candor/staging/')).toHaveLength(1);

    const again = await CloudStore.open(o);
    cleanups.push(() => again.close());
    expect(await again.readCheckpoint()).toBe(committed);
    expect(await object(c, o.bucket, 'checkpoint')).toBe(committed);
    expect(await again.storedEntries()).toBe(300);
    // The rightful writer resumes from what was committed (the crashed batch was never acknowledged).
    const resumed = new BatchMaker();
    resumed.next(300);
    await resumed.commit(again, 50);
    expect(await again.readCheckpoint()).toBe(resumed.checkpoint);
    expect(await object(c, o.bucket, 'checkpoint')).toBe(resumed.checkpoint);
  }, 60_000);

  test('killed between the compare-and-swap and publishing: reopening publishes the staged batch', async () => {
    const o = cloudOptions();
    const c = s3(o);
    const store = await CloudStore.open(o);
    const log = new BatchMaker();
    await log.commit(store, 200);
    const published = log.checkpoint;
    store.crashAt = 'after-cas';
    await expect(log.commit(store, 100)).rejects.toThrow(/crash injected after the compare-and-swap/);
    await store.close();
    // PostgreSQL has it; the bucket does not yet.
    expect(await object(c, o.bucket, 'checkpoint')).toBe(published);
    expect(await keys(c, o.bucket, 'tile/entries/')).toEqual(['tile/entries/000.p/200']);

    const again = await CloudStore.open(o);
    cleanups.push(() => again.close());
    expect(await again.readCheckpoint()).toBe(log.checkpoint);
    expect(await object(c, o.bucket, 'checkpoint')).toBe(log.checkpoint);
    expect((await again.readEntries(0, 300)).map((e) => Buffer.from(e).toString())).toEqual(log.entries.map((e) => Buffer.from(e).toString()));
    expect(await keys(c, o.bucket, 'tile/entries/')).toEqual(['tile/entries/000', 'tile/entries/001.p/44', 'tile/entries/000.p/200'].sort());
    expect(await keys(c, o.bucket, '.candor/staging/')).toEqual([]);
    await log.commit(again, 1);
    expect(await object(c, o.bucket, 'checkpoint')).toBe(log.checkpoint);
  }, 60_000);

  test('a read that finds a tile missing publishes the staged batch (recovery without a restart)', async () => {
    const o = cloudOptions();
    const store = await CloudStore.open(o);
    cleanups.push(() => store.close());
    const log = new BatchMaker();
    await log.commit(store, 10);
    store.crashAt = 'after-cas';
    await expect(log.commit(store, 10)).rejects.toThrow(/crash injected/);
    store.crashAt = undefined;
    const [t] = await store.readTiles([{ level: 0, index: 0 }]);
    expect(t!.hashes.length).toBe(20 * 32);
  }, 60_000);
});

describe.skipIf(skip)(`the bucket's checkpoint${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('only moves forward: a commit never overwrites a larger checkpoint object, and records it as ahead evidence', async () => {
    const o = cloudOptions();
    const c = s3(o);
    const store = await CloudStore.open(o);
    cleanups.push(() => store.close());
    const log = new BatchMaker();
    await log.commit(store, 5);
    // Someone (a restored database's node, a slow writer) left a larger tree's checkpoint there.
    const larger = 'conformance.example/log\n1000\nAAAA\n';
    await c.send(new PutObjectCommand({ Bucket: o.bucket, Key: 'checkpoint', Body: larger }));
    await log.commit(store, 5);
    expect(await object(c, o.bucket, 'checkpoint')).toBe(larger);
    expect(await store.readCheckpoint()).toBe(log.checkpoint);
    // And the larger size is recorded as evidence that the database is behind what was published.
    expect(await store.readAhead()).toEqual({ size: 1000, source: 'bucket', note: larger });
  }, 60_000);
});

describe.skipIf(skip)(`a database behind the bucket${skip ? ` (skipped: ${skip})` : ''}`, () => {
  test('a node refuses to sequence on a PostgreSQL that lost commits the bucket shows (an async failover), naming both sizes', async () => {
    const o = cloudOptions();
    const { credentials: _, createBucket: __, ...storage } = o;
    process.env.AWS_ACCESS_KEY_ID = o.credentials!.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = o.credentials!.secretAccessKey;
    await CloudStore.open(o).then((s) => s.close());
    const log = await startTestLog({ indexes: false, storage: { driver: 'cloud', ...storage } });
    cleanups.push(() => rmSync(log.dir, { recursive: true, force: true }));
    await log.service.addMany(Array.from({ length: 10 }, (_, j) => utf8(`before ${j}`)));
    const older = log.sequencer.checkpoint;
    await log.service.addMany(Array.from({ length: 10 }, (_, j) => utf8(`after ${j}`)));
    await log.close();
    // The failover's replica lacks the last commit: its checkpoint row is the older one.
    const db = new pg.Client({ connectionString: o.postgres });
    await db.connect();
    await db.query(`UPDATE ${o.schema}.checkpoint SET note = $1`, [older]);
    await db.end();
    await expect(startTestLog({ data: log.dir, indexes: false, storage: { driver: 'cloud', ...storage } })).rejects.toThrow(
      /refusing to start: bucket showed that this log has published a tree of size 20, but its store holds only size 10/,
    );
  }, 60_000);
});
