/**
 * The cloud LogStore: an S3-compatible bucket for the bytes, PostgreSQL for what must be decided
 * atomically (issue 17, point 3). The design follows Sunlight's (internal/ctlog: stage, then the
 * checkpoint compare-and-swap, then upload; recovery re-applies staging) with Tessera's
 * conditional object writes.
 *
 * PostgreSQL (schema `<schema>`, created on open):
 *   checkpoint(id = 1, note)   the authoritative checkpoint; a commit is `UPDATE ... WHERE note =
 *                              previous` in one transaction with the leaf-index rows, so two
 *                              writers can never both extend the same tree
 *   leaves(hash PK, idx)       the leaf-hash index (dedup is a primary key, not best effort)
 *   ahead(id = 1, ...)         evidence that the log published past this store
 * The bucket, laid out exactly as c2sp.org/tlog-tiles (so any tiles client reads it with every
 * Candor process down):
 *   checkpoint, tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>]
 *   .candor/interior/<L>/<N>      a full tile's interior (core/tile.ts), only Candor reads it
 *   .candor/staging/<sha256 hex>  a batch's objects, keyed by the hash of the checkpoint they
 *                                 make, written (If-None-Match: *) before the compare-and-swap
 * A commit: stage, CAS in PostgreSQL, publish tiles and bundles, move the public `checkpoint`
 * forward (conditional write: it never goes back), delete the staging object. A crash after the
 * CAS leaves the objects staged: open (and a read that finds a tile missing) publishes the staged
 * batch whose checkpoint is PostgreSQL's.
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { CandorError } from '@candor/core/errors';
import { HASH_SIZE } from '@candor/core/hash';
import { ENTRIES, TILE_WIDTH, decodeBundle, encodeBundle, formatTileIndex, rowWidth, tilePath } from '@candor/core/tile';
import { fencedMessage } from '../level.js';
import { FencedError, type AheadEvidence, type CommitBatch, type LogStore, type StoredTile, type TileId } from '../store.js';

export interface CloudStoreOptions {
  bucket: string;
  /** The S3 endpoint (http://127.0.0.1:7480 for RGW); omitted: AWS. */
  endpoint?: string;
  region: string;
  /** Omitted: the SDK's default chain (environment, instance role, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** PostgreSQL connection string. */
  postgres: string;
  /** The PostgreSQL schema holding this log's tables (one per log; tests use one per test). */
  schema?: string;
  /** Create the bucket when it does not exist (tests, first runs). */
  createBucket?: boolean;
}

/** Where a crash may be injected, for the crash tests: the commit throws there, as a killed process stops. */
export type CrashPoint = 'after-staging' | 'after-cas';

const PRIVATE = '.candor/';
const STAGING = `${PRIVATE}staging/`;
const interiorKey = (level: number, index: number) => `${PRIVATE}interior/${level}/${formatTileIndex(index)}`;
const stagingKey = (checkpoint: string) => STAGING + createHash('sha256').update(checkpoint).digest('hex');
const noteSize = (note: string) => Number(note.split('\n')[1]);
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;
/**
 * Test-only: the compare-and-swap without its compare, so that the failover test's negative
 * control (test/ha) can show its checker catches what fencing prevents. Never set it elsewhere.
 */
const UNFENCED = process.env.CANDOR_TEST_DISABLE_FENCING === '1';

interface PendingObject {
  key: string;
  body: Uint8Array;
}

/** A staged batch: a length-prefixed JSON header ({checkpoint, keys, lengths}), then the bodies. */
function encodeStaged(checkpoint: string, objects: readonly PendingObject[]): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({ checkpoint, keys: objects.map((o) => o.key), lengths: objects.map((o) => o.body.length) }));
  const out = new Uint8Array(4 + header.length + objects.reduce((n, o) => n + o.body.length, 0));
  new DataView(out.buffer).setUint32(0, header.length);
  out.set(header, 4);
  let off = 4 + header.length;
  for (const o of objects) {
    out.set(o.body, off);
    off += o.body.length;
  }
  return out;
}

function decodeStaged(data: Uint8Array): { checkpoint: string; objects: PendingObject[] } {
  const n = new DataView(data.buffer, data.byteOffset).getUint32(0);
  const header = JSON.parse(new TextDecoder().decode(data.subarray(4, 4 + n))) as { checkpoint: string; keys: string[]; lengths: number[] };
  let off = 4 + n;
  const objects = header.keys.map((key, i) => {
    const body = data.subarray(off, off + header.lengths[i]!);
    off += header.lengths[i]!;
    return { key, body };
  });
  return { checkpoint: header.checkpoint, objects };
}

const status = (e: unknown) => (e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined);

export class CloudStore implements LogStore {
  readonly #s3: S3Client;
  readonly #pool: pg.Pool;
  readonly #bucket: string;
  readonly #schema: string;
  /** The checkpoint size this process last read or committed: it names the tiles to read. */
  #size = 0;
  /** The entries of the last, partial entry bundle (what the next commit's bundle extends). */
  #tail: { index: number; entries: Uint8Array[] } | undefined;
  /** Object PUTs this store has sent (staging, tiles, bundles, interiors, checkpoint), for benchmarks. */
  puts = 0;
  /** Test-only: throw at this point of the next commit, as a process killed there would stop. */
  crashAt: CrashPoint | undefined;

  private constructor(s3: S3Client, pool: pg.Pool, bucket: string, schema: string) {
    this.#s3 = s3;
    this.#pool = pool;
    this.#bucket = bucket;
    this.#schema = schema;
  }

  static async open(o: CloudStoreOptions): Promise<CloudStore> {
    const schema = o.schema ?? 'candor';
    if (!SCHEMA.test(schema)) throw new CandorError('invalid_argument', `storage.schema ${JSON.stringify(schema)} is not a plain PostgreSQL identifier (a-z, 0-9, _)`);
    // Checksums only where required: the SDK's default sends aws-chunked trailers that Ceph RGW 16
    // refuses (test/services/services.test.ts).
    const s3 = new S3Client({
      endpoint: o.endpoint,
      region: o.region,
      credentials: o.credentials,
      forcePathStyle: o.endpoint !== undefined,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const pool = new pg.Pool({ connectionString: o.postgres, max: 8 });
    const store = new CloudStore(s3, pool, o.bucket, schema);
    try {
      await store.#prepare(o.createBucket ?? false);
      await store.#checkPublished();
      await store.recover();
    } catch (err) {
      await store.close();
      throw err instanceof CandorError ? err : new CandorError('unavailable', `cannot open the cloud store (bucket ${o.bucket}, schema ${schema}): ${(err as Error).message}`, { cause: err });
    }
    return store;
  }

  async #prepare(createBucket: boolean): Promise<void> {
    try {
      await this.#s3.send(new HeadBucketCommand({ Bucket: this.#bucket }));
    } catch (e) {
      if (status(e) !== 404 || !createBucket) throw new CandorError('unavailable', `bucket ${this.#bucket}: ${status(e) === 404 ? 'does not exist' : (e as Error).message}`, { cause: e });
      await this.#s3.send(new CreateBucketCommand({ Bucket: this.#bucket }));
    }
    const s = this.#schema;
    // One statement string: PostgreSQL runs it as one implicit transaction. The lock keeps two
    // nodes opening a new schema at once from racing on CREATE ... IF NOT EXISTS.
    await this.#pool.query(`
      SELECT pg_advisory_xact_lock(hashtext('candor schema ${s}'));
      CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.checkpoint (id int PRIMARY KEY CHECK (id = 1), note text NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.leaves (hash bytea PRIMARY KEY, idx bigint NOT NULL);
      CREATE TABLE IF NOT EXISTS ${s}.ahead (id int PRIMARY KEY CHECK (id = 1), size bigint NOT NULL, source text NOT NULL, note text);
    `);
  }

  async readCheckpoint(): Promise<string | undefined> {
    const note = await this.#readNote();
    if (note !== undefined) this.#size = Math.max(this.#size, noteSize(note));
    return note;
  }

  /**
   * PostgreSQL's checkpoint, leaving the size this store reads tiles at alone: a follower that
   * loads the tree of one size must not have its tile widths moved by a newer commit under it.
   */
  async #readNote(): Promise<string | undefined> {
    const r = await this.#pool.query<{ note: string }>(`SELECT note FROM ${this.#schema}.checkpoint WHERE id = 1`);
    return r.rows[0]?.note;
  }

  /**
   * A bucket whose public `checkpoint` is larger than PostgreSQL's was written by a database that
   * has since lost commits (an asynchronous failover, a restored backup): recorded as ahead
   * evidence, so that no node sequences on this database (Sequencer.open refuses, naming both
   * sizes). The bucket is read first: PostgreSQL's checkpoint only grows and the bucket's follows
   * it, so a larger bucket read before the database cannot be a commit that raced the check.
   */
  async #checkPublished(): Promise<void> {
    const published = await this.#get('checkpoint');
    if (published === undefined) return;
    const note = await this.readCheckpoint();
    const text = new TextDecoder().decode(published);
    if (noteSize(text) > (note === undefined ? 0 : noteSize(note))) await this.recordAhead({ size: noteSize(text), source: 'bucket', note: text });
  }

  /**
   * Publishes the staged batch that made PostgreSQL's checkpoint, if it is still staged (a commit
   * that stopped between the compare-and-swap and the end of publishing). Idempotent.
   */
  async recover(): Promise<boolean> {
    const note = await this.#readNote();
    if (note === undefined) return false;
    const staged = await this.#get(stagingKey(note));
    if (staged === undefined) return false;
    const { checkpoint, objects } = decodeStaged(staged);
    if (checkpoint !== note) throw new CandorError('internal', `staging object ${stagingKey(note)} holds another checkpoint`);
    await this.#publish(checkpoint, objects);
    return true;
  }

  async readTiles(ids: readonly TileId[]): Promise<(StoredTile | undefined)[]> {
    const read = () => Promise.all(ids.map((id) => this.#readTile(id)));
    let tiles = await read();
    if (tiles.some((t) => t === null) && (await this.recover())) tiles = await read();
    const lost = tiles.findIndex((t) => t === null);
    if (lost >= 0) throw new CandorError('unavailable', `the bucket is missing ${tilePath({ ...ids[lost]!, width: this.#width(ids[lost]!.level, ids[lost]!.index) })} of the tree of size ${this.#size}`);
    return tiles as (StoredTile | undefined)[];
  }

  /** A tile's width at the current size (0: not in the tree). */
  #width(level: number, index: number): number {
    return Math.max(0, Math.min(TILE_WIDTH, rowWidth(this.#size, level) - index * TILE_WIDTH));
  }

  /** The tile, undefined when the tree has none there, null when the bucket lacks it. */
  async #readTile({ level, index }: TileId): Promise<StoredTile | undefined | null> {
    const width = this.#width(level, index);
    if (width === 0) return undefined;
    const [hashes, interior] = await Promise.all([
      this.#get(tilePath({ level, index, width })),
      width === TILE_WIDTH ? this.#get(interiorKey(level, index)) : undefined,
    ]);
    if (hashes === undefined || hashes.length !== width * HASH_SIZE) return null;
    return interior ? { level, index, hashes, interior } : { level, index, hashes };
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    if (end <= start) return [];
    const size = Math.max(this.#size, end);
    const first = Math.floor(start / TILE_WIDTH);
    const last = Math.floor((end - 1) / TILE_WIDTH);
    const bundles = await Promise.all(
      Array.from({ length: last - first + 1 }, async (_, i) => {
        const index = first + i;
        const width = Math.min(TILE_WIDTH, size - index * TILE_WIDTH);
        const key = tilePath({ level: ENTRIES, index, width });
        const body = (await this.#get(key)) ?? ((await this.recover()) ? await this.#get(key) : undefined);
        if (body === undefined) throw new CandorError('unavailable', `the bucket is missing ${key}`);
        return decodeBundle(body, Math.max(0, start - index * TILE_WIDTH), end - index * TILE_WIDTH);
      }),
    );
    return bundles.flat();
  }

  async storedEntries(): Promise<number> {
    // Entries are published only for a committed checkpoint, and staged ones are not "stored"
    // until their CAS: the checkpoint's size is what the bucket holds.
    const note = await this.readCheckpoint();
    return note === undefined ? 0 : noteSize(note);
  }

  async lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    if (hashes.length === 0) return [];
    const r = await this.#pool.query<{ hash: Buffer; idx: string }>(`SELECT hash, idx FROM ${this.#schema}.leaves WHERE hash = ANY($1::bytea[])`, [
      hashes.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength)),
    ]);
    const found = new Map(r.rows.map((row) => [row.hash.toString('hex'), Number(row.idx)]));
    return hashes.map((h) => found.get(Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('hex')));
  }

  async readAhead(): Promise<AheadEvidence | undefined> {
    const r = await this.#pool.query<{ size: string; source: string; note: string | null }>(`SELECT size, source, note FROM ${this.#schema}.ahead WHERE id = 1`);
    const row = r.rows[0];
    if (!row) return undefined;
    return { size: Number(row.size), source: row.source, ...(row.note !== null ? { note: row.note } : {}) };
  }

  async recordAhead(e: AheadEvidence): Promise<void> {
    await this.#pool.query(
      `INSERT INTO ${this.#schema}.ahead (id, size, source, note) VALUES (1, $1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET size = excluded.size, source = excluded.source, note = excluded.note WHERE ahead.size < excluded.size`,
      [e.size, e.source, e.note ?? null],
    );
  }

  async commit(batch: CommitBatch): Promise<void> {
    const objects = await this.#objects(batch);
    const key = stagingKey(batch.checkpoint);
    await this.#putStaging(key, encodeStaged(batch.checkpoint, objects));
    if (this.crashAt === 'after-staging') throw new Error('crash injected after staging');
    try {
      await this.#cas(batch);
    } catch (err) {
      // Fenced or failed before the CAS: the staged objects will never be published.
      if (err instanceof FencedError) await this.#delete(key).catch(() => undefined);
      throw err;
    }
    this.#size = noteSize(batch.checkpoint);
    this.#tail = tailOf(batch, this.#tail);
    if (this.crashAt === 'after-cas') throw new Error('crash injected after the compare-and-swap');
    await this.#publish(batch.checkpoint, objects);
  }

  /** The objects a batch publishes: changed tiles (and full tiles' interiors) and entry bundles. */
  async #objects(batch: CommitBatch): Promise<PendingObject[]> {
    const objects: PendingObject[] = [];
    for (const t of batch.tiles) {
      const width = t.hashes.length / HASH_SIZE;
      objects.push({ key: tilePath({ level: t.level, index: t.index, width }), body: t.hashes });
      if (t.interior) objects.push({ key: interiorKey(t.level, t.index), body: t.interior });
    }
    const n = batch.entries.length;
    if (n === 0) return objects;
    // A bundle holds every entry from its start: the first one extends the last partial bundle.
    const first = Math.floor(batch.start / TILE_WIDTH);
    const before = batch.start - first * TILE_WIDTH;
    let head: Uint8Array[] = [];
    if (before > 0) head = this.#tail?.index === first && this.#tail.entries.length === before ? this.#tail.entries : await this.readEntries(first * TILE_WIDTH, batch.start);
    const all = [...head, ...batch.entries];
    for (let i = 0; i < all.length; i += TILE_WIDTH) {
      const chunk = all.slice(i, i + TILE_WIDTH);
      objects.push({ key: tilePath({ level: ENTRIES, index: first + i / TILE_WIDTH, width: chunk.length }), body: encodeBundle(chunk) });
    }
    return objects;
  }

  async #putStaging(key: string, body: Uint8Array): Promise<void> {
    try {
      this.puts++;
      await this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, IfNoneMatch: '*' }));
    } catch (e) {
      // 412: already staged; the key is the hash of the checkpoint, so it is this very batch.
      if (status(e) === 412) return;
      // 5xx on a conditional write: the outcome is unknown; it landed if the object is there.
      if ((status(e) ?? 0) >= 500 && (await this.#get(key)) !== undefined) return;
      throw new CandorError('unavailable', `staging ${key} in bucket ${this.#bucket}: ${(e as Error).message}`, { cause: e, retryAfterMs: 1000 });
    }
  }

  /** The compare-and-swap on the checkpoint row, with the leaf-index rows, in one transaction. */
  async #cas(batch: CommitBatch): Promise<void> {
    const s = this.#schema;
    const client = await this.#pool.connect();
    let release: Error | undefined;
    try {
      await client.query('BEGIN');
      const moved =
        batch.previous === undefined
          ? await client.query(`INSERT INTO ${s}.checkpoint (id, note) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, [batch.checkpoint])
          : UNFENCED
            ? await client.query(`UPDATE ${s}.checkpoint SET note = $1 WHERE id = 1`, [batch.checkpoint])
            : await client.query(`UPDATE ${s}.checkpoint SET note = $1 WHERE id = 1 AND note = $2`, [batch.checkpoint, batch.previous]);
      if (moved.rowCount !== 1) {
        await client.query('ROLLBACK');
        const stored = (await client.query<{ note: string }>(`SELECT note FROM ${s}.checkpoint WHERE id = 1`)).rows[0]?.note;
        throw new FencedError(fencedMessage(stored, batch.previous));
      }
      if (batch.leafIndex.length > 0) {
        await client.query(`INSERT INTO ${s}.leaves (hash, idx) SELECT * FROM unnest($1::bytea[], $2::bigint[]) ON CONFLICT (hash) DO NOTHING`, [
          batch.leafIndex.map((l) => Buffer.from(l.hash.buffer, l.hash.byteOffset, l.hash.byteLength)),
          batch.leafIndex.map((l) => l.index),
        ]);
      }
      await client.query('COMMIT');
    } catch (err) {
      if (err instanceof FencedError) throw err;
      release = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      // A COMMIT whose answer was lost: the outcome is unknown, so read it.
      if ((await this.readCheckpoint().catch(() => undefined)) === batch.checkpoint) return;
      throw new CandorError('unavailable', `the checkpoint compare-and-swap in PostgreSQL failed: ${(err as Error).message}`, { cause: err, retryAfterMs: 1000 });
    } finally {
      client.release(release);
    }
  }

  /** Uploads a committed batch's objects, moves the public checkpoint forward, drops staging. */
  async #publish(checkpoint: string, objects: readonly PendingObject[]): Promise<void> {
    this.puts += objects.length;
    await Promise.all(objects.map((o) => this.#s3.send(new PutObjectCommand({ Bucket: this.#bucket, Key: o.key, Body: o.body }))));
    await this.#advanceCheckpoint(checkpoint);
    await this.#delete(stagingKey(checkpoint));
  }

  /**
   * Writes the public `checkpoint` object if it is behind: a conditional write on the ETag read,
   * so a slow writer never moves it back. A 412 or a 5xx (outcome unknown) reads again.
   */
  async #advanceCheckpoint(note: string): Promise<void> {
    const size = noteSize(note);
    for (let attempt = 0; attempt < 10; attempt++) {
      let etag: string | undefined;
      try {
        const got = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: 'checkpoint' }));
        const current = await got.Body!.transformToString();
        if (current === note) return;
        if (noteSize(current) > size) {
          // The bucket shows a larger tree than PostgreSQL just committed: the database was rolled
          // back (a restored backup, a failover that lost commits). Recorded, so that start-up
          // refuses to sequence on it (Sequencer.open checks readAhead).
          await this.recordAhead({ size: noteSize(current), source: 'bucket', note: current });
          return;
        }
        if (noteSize(current) === size) return;
        etag = got.ETag!.replaceAll('"', ''); // RGW wants If-Match unquoted
      } catch (e) {
        if (status(e) !== 404) throw e;
      }
      try {
        this.puts++;
        await this.#s3.send(
          new PutObjectCommand({ Bucket: this.#bucket, Key: 'checkpoint', Body: note, ContentType: 'text/plain; charset=utf-8', CacheControl: 'no-cache', ...(etag ? { IfMatch: etag } : { IfNoneMatch: '*' }) }),
        );
        return;
      } catch (e) {
        const code = status(e) ?? 0;
        if (code !== 412 && code < 500) throw e;
      }
    }
    throw new CandorError('unavailable', `could not move the bucket's checkpoint to size ${size}: it kept changing`);
  }

  async #get(key: string): Promise<Uint8Array | undefined> {
    try {
      const got = await this.#s3.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return await got.Body!.transformToByteArray();
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
  }

  async #delete(key: string): Promise<void> {
    await this.#s3.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key }));
  }

  async close(): Promise<void> {
    this.#s3.destroy();
    await this.#pool.end();
  }
}

/** The last partial bundle after a batch (undefined when the batch ended on a bundle boundary). */
function tailOf(batch: CommitBatch, before: { index: number; entries: Uint8Array[] } | undefined): { index: number; entries: Uint8Array[] } | undefined {
  const end = batch.start + batch.entries.length;
  const index = Math.floor(end / TILE_WIDTH);
  const inTail = end - index * TILE_WIDTH;
  if (inTail === 0) return undefined;
  const fromBatch = batch.entries.slice(Math.max(0, batch.entries.length - inTail));
  if (fromBatch.length === inTail) return { index, entries: fromBatch };
  // The batch only extended the tail it started in.
  return before && before.index === index ? { index, entries: [...before.entries, ...batch.entries] } : undefined;
}
