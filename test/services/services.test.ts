// The facts the PostgreSQL and S3 drivers (issues 17 and 20) rely on, proved against the real
// servers test/services/services.sh starts: Ceph's RADOS gateway 16 and PostgreSQL 15.
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { postgresMissing, postgresUrl, s3Config, s3Missing } from '../helpers/services.js';

/** The HTTP status and S3 error code of a refused request, so a test can show what "refused" means. */
async function refusal(p: Promise<unknown>): Promise<{ status: number | undefined; code: string }> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof S3ServiceException)) throw e;
    return { status: e.$metadata.httpStatusCode, code: e.name };
  }
  throw new Error('the request was accepted');
}

const unquote = (etag: string | undefined) => etag!.replaceAll('"', '');

const s3Skip = s3Missing();
describe.skipIf(s3Skip)(`S3 on Ceph RGW${s3Skip ? ` (skipped: ${s3Skip})` : ''}`, () => {
  let s3: S3Client;
  // Path-style addressing (http://127.0.0.1:port/bucket/key): the gateway has no DNS name per
  // bucket. Checksums only where an operation requires one: the SDK's default (WHEN_SUPPORTED)
  // sends a stream body as aws-chunked with a trailing checksum, which RGW 16 refuses (below).
  const clients: S3Client[] = [];
  const client = (maxAttempts?: number, requestChecksumCalculation: 'WHEN_REQUIRED' | 'WHEN_SUPPORTED' = 'WHEN_REQUIRED') => {
    const c = s3Config();
    const made = new S3Client({ endpoint: c.endpoint, region: c.region, credentials: c, forcePathStyle: true, maxAttempts, requestChecksumCalculation });
    clients.push(made);
    return made;
  };
  const bucket = `candor-test-${randomBytes(4).toString('hex')}`;
  const body = (s: string) => new TextEncoder().encode(s);

  beforeAll(async () => {
    s3 = client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterAll(() => clients.forEach((c) => c.destroy()));

  test('PUT, GET, HEAD and list with path-style addressing', async () => {
    const data = randomBytes(8192);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tile/0/000', Body: data, ContentType: 'application/octet-stream' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tile/0/001', Body: data }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tile/0/000' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tile/0/000' }));
    expect(head.ContentLength).toBe(8192);
    expect(head.ContentType).toBe('application/octet-stream');
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'tile/0/' }));
    expect(list.Contents?.map((o) => o.Key)).toEqual(['tile/0/000', 'tile/0/001']);
    expect(await refusal(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tile/0/002' })))).toEqual({ status: 404, code: 'NotFound' });
    expect(await refusal(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'tile/0/002' })))).toEqual({ status: 404, code: 'NoSuchKey' });
  });

  test("a stream body: refused under the SDK's default checksums (411), accepted with requestChecksumCalculation WHEN_REQUIRED", async () => {
    const data = randomBytes(8192);
    const put = (c: S3Client) => c.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from([data]), ContentLength: data.length }));
    expect(await refusal(put(client(1, 'WHEN_SUPPORTED')))).toEqual({ status: 411, code: 'MissingContentLength' });
    await put(s3);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'streamed' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(data)).toBe(true);
    // A byte array body is sent whole, with a CRC32 header under the default: RGW 16 takes it.
    await client(1, 'WHEN_SUPPORTED').send(new PutObjectCommand({ Bucket: bucket, Key: 'whole', Body: data }));
  });

  test('If-None-Match: * creates once and refuses an overwrite with 412 PreconditionFailed', async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once', Body: body('first'), IfNoneMatch: '*' }));
    expect(await refusal(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'once', Body: body('second'), IfNoneMatch: '*' })))).toEqual({
      status: 412,
      code: 'PreconditionFailed',
    });
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'once' }));
    expect(await got.Body!.transformToString()).toBe('first');
  });

  test('If-Match wants the ETag unquoted, and on a missing key answers 412', async () => {
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas-quote', Body: body('v1') }));
    expect(put.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    // RGW 16 compares the header with the ETag as stored, without quotes: the quoted form, which
    // RFC 9110 §13.1.1 and AWS accept, never matches here.
    expect(await refusal(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas-quote', Body: body('v2'), IfMatch: put.ETag })))).toEqual({
      status: 412,
      code: 'PreconditionFailed',
    });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas-quote', Body: body('v2'), IfMatch: unquote(put.ETag) }));
    expect(await refusal(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'cas-missing', Body: body('v1'), IfMatch: unquote(put.ETag) })))).toEqual({
      status: 412,
      code: 'PreconditionFailed',
    });
  });

  test('If-None-Match: * is atomic: of 16 concurrent creators of one key exactly one wins, the others get 412', async () => {
    // One attempt per request: the SDK retries a 5xx, which would hide what the gateway answered.
    const once = client(1);
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, (_, i) => once.send(new PutObjectCommand({ Bucket: bucket, Key: `bundle-${round}`, Body: body(`writer ${i}`), IfNoneMatch: '*' }))),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect((r.reason as S3ServiceException).$metadata.httpStatusCode).toBe(412);
      }
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `bundle-${round}` }));
      expect(await got.Body!.transformToString()).toBe(`writer ${won[0]}`);
    }
  });

  test('If-Match compare-and-swap: of 16 concurrent writers exactly one wins; a loser gets 412, or 500 when it loses inside RADOS', async () => {
    // RGW 16 checks If-Match, then writes the head object conditionally in RADOS: a writer that
    // passed the check but lost the race there gets 500 (ECANCELED, logged "set_req_state_err
    // err_no=125 resorting to 500"), most of the 15 losers in practice, not 412. The SDK retries a
    // 500 only while its retry quota lasts (then the retry gets 412), so a driver must treat a 500
    // on a conditional PUT as "outcome unknown" and re-read the object. Note that the ETag is the
    // MD5 of the body: a writer that writes the bytes already there keeps the ETag.
    const once = client(1);
    const statuses = new Set<number | undefined>();
    for (let round = 0; round < 10; round++) {
      const key = `checkpoint-${round}`;
      const first = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body('size 0') }));
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, (_, i) => once.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body(`size ${i + 1}`), IfMatch: unquote(first.ETag) }))),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') statuses.add((r.reason as S3ServiceException).$metadata.httpStatusCode);
      const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      expect(await got.Body!.transformToString()).toBe(`size ${won[0]! + 1}`);
    }
    expect([...statuses].filter((s) => s !== 412 && s !== 500)).toEqual([]);
  });

  describe('Object Lock (WORM)', () => {
    const locked = `candor-worm-${randomBytes(4).toString('hex')}`;
    const inOneDay = () => new Date(Date.now() + 86_400_000);

    beforeAll(async () => {
      // Object Lock can only be enabled when the bucket is created; it turns versioning on.
      await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
    });

    test('a version under default GOVERNANCE retention: delete and overwrite keep it; deleting the version is refused', async () => {
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket: locked,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } },
        }),
      );
      const v1 = await s3.send(new PutObjectCommand({ Bucket: locked, Key: 'tile/0/x001/000', Body: body('full tile') }));
      expect(v1.VersionId).toBeTruthy();
      const retention = await s3.send(new GetObjectRetentionCommand({ Bucket: locked, Key: 'tile/0/x001/000', VersionId: v1.VersionId }));
      expect(retention.Retention?.Mode).toBe('GOVERNANCE');

      // An overwrite is accepted, as a new version: the locked one stays readable by its id.
      const v2 = await s3.send(new PutObjectCommand({ Bucket: locked, Key: 'tile/0/x001/000', Body: body('forged tile') }));
      expect(v2.VersionId).not.toBe(v1.VersionId);
      // A delete without a version id is accepted too: it only adds a delete marker.
      const marker = await s3.send(new DeleteObjectCommand({ Bucket: locked, Key: 'tile/0/x001/000' }));
      expect(marker.DeleteMarker).toBe(true);
      // Deleting the locked version itself is what is refused: 403 AccessDenied.
      expect(await refusal(s3.send(new DeleteObjectCommand({ Bucket: locked, Key: 'tile/0/x001/000', VersionId: v1.VersionId })))).toEqual({
        status: 403,
        code: 'AccessDenied',
      });
      const kept = await s3.send(new GetObjectCommand({ Bucket: locked, Key: 'tile/0/x001/000', VersionId: v1.VersionId }));
      expect(await kept.Body!.transformToString()).toBe('full tile');
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: locked, Prefix: 'tile/0/x001/000' }));
      expect(versions.Versions?.map((v) => v.VersionId).sort()).toEqual([v1.VersionId, v2.VersionId].sort());
      expect(versions.DeleteMarkers).toHaveLength(1);

      // GOVERNANCE yields to a user who asks to bypass it (and holds the permission: the owner).
      await s3.send(new DeleteObjectCommand({ Bucket: locked, Key: 'tile/0/x001/000', VersionId: v2.VersionId, BypassGovernanceRetention: true }));
    });

    test('a version under COMPLIANCE retention: no one deletes it or shortens its retention, not even with the bypass', async () => {
      const v1 = await s3.send(
        new PutObjectCommand({
          Bucket: locked,
          Key: 'checkpoint/immutable/1',
          Body: body('checkpoint'),
          ObjectLockMode: 'COMPLIANCE',
          ObjectLockRetainUntilDate: inOneDay(),
        }),
      );
      const del = { Bucket: locked, Key: 'checkpoint/immutable/1', VersionId: v1.VersionId };
      expect(await refusal(s3.send(new DeleteObjectCommand(del)))).toEqual({ status: 403, code: 'AccessDenied' });
      expect(await refusal(s3.send(new DeleteObjectCommand({ ...del, BypassGovernanceRetention: true })))).toEqual({
        status: 403,
        code: 'AccessDenied',
      });
      expect(
        await refusal(
          s3.send(
            new PutObjectRetentionCommand({
              ...del,
              Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date(Date.now() + 60_000) },
              BypassGovernanceRetention: true,
            }),
          ),
        ),
      ).toEqual({ status: 403, code: 'AccessDenied' });
      const kept = await s3.send(new GetObjectCommand({ Bucket: locked, Key: 'checkpoint/immutable/1', VersionId: v1.VersionId }));
      expect(await kept.Body!.transformToString()).toBe('checkpoint');
    });
  });
});

const pgSkip = postgresMissing();
describe.skipIf(pgSkip)(`PostgreSQL${pgSkip ? ` (skipped: ${pgSkip})` : ''}`, () => {
  let pool: pg.Pool;
  const schema = `candor_test_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: postgresUrl(), max: 20 });
    await pool.query(`CREATE SCHEMA ${schema}`);
    await pool.query(`CREATE TABLE ${schema}.log (origin text PRIMARY KEY, checkpoint text NOT NULL)`);
  });
  afterAll(async () => {
    await pool?.query(`DROP SCHEMA ${schema} CASCADE`);
    await pool?.end();
  });

  test('the server runs with wal_level = logical and fsync on', async () => {
    const { rows } = await pool.query(`SELECT current_setting('wal_level') AS wal, current_setting('fsync') AS fsync`);
    expect(rows[0]).toEqual({ wal: 'logical', fsync: 'on' });
  });

  test('row compare-and-swap: of 16 concurrent UPDATE ... WHERE checkpoint = $old exactly one wins', async () => {
    for (let round = 0; round < 5; round++) {
      const origin = `example.com/log-${round}`;
      await pool.query(`INSERT INTO ${schema}.log VALUES ($1, 'size 0')`, [origin]);
      // Each writer in its own transaction on its own connection; a loser waits for the winner's
      // row lock, then re-reads the row under READ COMMITTED and no longer matches.
      const results = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const client = await pool.connect();
          try {
            await client.query('BEGIN');
            const r = await client.query(`UPDATE ${schema}.log SET checkpoint = $1 WHERE origin = $2 AND checkpoint = 'size 0'`, [`size ${i + 1}`, origin]);
            await client.query('COMMIT');
            return r.rowCount;
          } finally {
            client.release();
          }
        }),
      );
      expect(results.filter((n) => n === 1)).toHaveLength(1);
      const { rows } = await pool.query(`SELECT checkpoint FROM ${schema}.log WHERE origin = $1`, [origin]);
      expect(rows[0].checkpoint).toBe(`size ${results.indexOf(1) + 1}`);
    }
  });

  test('LISTEN/NOTIFY delivers a notification to another connection', async () => {
    const listener = await pool.connect();
    try {
      const received = new Promise<pg.Notification>((resolve) => listener.once('notification', resolve));
      await listener.query(`LISTEN candor_checkpoint`);
      await pool.query(`SELECT pg_notify('candor_checkpoint', 'size 42')`);
      const n = await Promise.race([received, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no notification in 5 s')), 5000))]);
      expect(n).toMatchObject({ channel: 'candor_checkpoint', payload: 'size 42' });
    } finally {
      await listener.query('UNLISTEN *');
      listener.release();
    }
  });

  test('a logical replication slot with pgoutput decodes a committed insert', async () => {
    const slot = `${schema}_slot`;
    await pool.query(`CREATE PUBLICATION ${schema}_pub FOR TABLE ${schema}.log`);
    await pool.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    try {
      await pool.query(`INSERT INTO ${schema}.log VALUES ('example.com/replicated', 'size 7')`);
      const { rows } = await pool.query(
        `SELECT data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)`,
        [slot, `${schema}_pub`],
      );
      // pgoutput messages (PostgreSQL docs, "Logical Replication Message Formats"): B(egin),
      // R(elation), I(nsert), C(ommit); the insert carries the new row's text values.
      const kinds = rows.map((r: { data: Buffer }) => String.fromCharCode(r.data[0]!));
      expect(kinds).toEqual(['B', 'R', 'I', 'C']);
      const insert = rows[2].data as Buffer;
      expect(insert.includes(Buffer.from('example.com/replicated'))).toBe(true);
    } finally {
      await pool.query(`SELECT pg_drop_replication_slot($1)`, [slot]);
    }
  });
});
