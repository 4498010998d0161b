/**
 * A reader for any c2sp.org/tlog-tiles log over HTTP (GET only, fetch only): the checkpoint, hash
 * tiles and entry bundles, each bounded by a timeout and a size cap, plus the Merkle proofs and
 * tree hashes that can be computed from the tiles of a tree size. Nothing read here is trusted:
 * callers check every hash against a signed checkpoint. The witness's polling mode and the
 * auditor both read logs through it.
 *
 * Entry bundles may need a reader's token (a Candor log serves them to auditors with read-log
 * unless it is public): given one, the client sends it with entry bundle requests only, never
 * with the public checkpoint and hash tiles (which caches may then share).
 *
 * Errors: a 404 is CandorError('not_found') (a tile the log should serve and does not); 401 and
 * 403 are 'unauthenticated' and 'permission_denied' with the log's message; any other failure to
 * get an answer is 'unavailable' (retry later).
 */
import { CandorError } from '@candor/core/errors';
import { HASH_SIZE, type Hasher } from '@candor/core/hash';
import { proofHashes, proofNodes, treeHash, type LeafRange, type NodeReader } from '@candor/core/merkle';
import { MAX_ENTRY_SIZE, TILE_WIDTH, decodeBundle, nodeLocation, rowWidth, subtreeHash, tilePath, type TileRef, ENTRIES } from '@candor/core/tile';
import { fromUtf8 } from '@candor/core/bytes';

export const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_CHECKPOINT_BYTES = 64 * 1024;
const MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_SIZE);

export class TileClient {
  readonly url: string;
  readonly #timeoutMs: number;
  readonly #token: (() => string | undefined) | undefined;
  /** Requests made, for progress reports and tests. */
  requests = 0;

  /** `token` may be a function: the explorer's reader types it after the client exists. */
  constructor(url: string, opts: { timeoutMs?: number; token?: string | (() => string | undefined) } = {}) {
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new CandorError('invalid_argument', `--url must be an http:// or https:// URL, got ${JSON.stringify(url)}`);
    this.url = url.replace(/\/+$/, '');
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const token = opts.token;
    this.#token = typeof token === 'function' ? token : token === undefined ? undefined : () => token;
  }

  /** The log's current checkpoint note, unverified. */
  async checkpoint(): Promise<string> {
    return fromUtf8(await this.#get('checkpoint', MAX_CHECKPOINT_BYTES), 'checkpoint');
  }

  /**
   * The hash tile (level, index) as published for a tree whose row at that level holds `width`
   * hashes of this tile (256: full). A partial tile that is gone is read as the prefix of the full
   * one (tlog-tiles lets logs delete partial tiles once the full tile exists).
   */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array> {
    const want = width * HASH_SIZE;
    const bytes = await this.#getTile({ level, index, width }, TILE_WIDTH * HASH_SIZE);
    if (bytes.length < want) throw new CandorError('verification_failed', `${tilePath({ level, index, width })} has ${bytes.length} bytes, want ${want}`);
    return bytes.subarray(0, want);
  }

  /** The entries of bundle `index` (the first `width`); the bundle encoding is checked, the entries are not. */
  async entryBundle(index: number, width: number): Promise<Uint8Array[]> {
    const ref = { level: ENTRIES, index, width };
    const entries = decodeBundle(await this.#getTile(ref, MAX_BUNDLE_BYTES));
    if (entries.length < width) throw new CandorError('verification_failed', `${tilePath(ref)} holds ${entries.length} entries, want ${width}`);
    return entries.slice(0, width);
  }

  async #getTile(t: TileRef, maxBytes: number): Promise<Uint8Array> {
    const token = t.level === ENTRIES ? this.#token?.() || undefined : undefined;
    try {
      return await this.#get(tilePath(t), maxBytes, token);
    } catch (err) {
      if (!(err instanceof CandorError && err.code === 'not_found' && t.width < TILE_WIDTH)) throw err;
      return this.#get(tilePath({ ...t, width: TILE_WIDTH }), maxBytes, token);
    }
  }

  /** GET with a deadline on headers and body and a cap on the body. */
  async #get(path: string, maxBytes: number, token?: string): Promise<Uint8Array> {
    const url = `${this.url}/${path}`;
    const signal = AbortSignal.timeout(this.#timeoutMs);
    this.requests++;
    try {
      const res = await fetch(url, { signal, ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}) });
      if (res.status !== 200) {
        if (res.status === 401 || res.status === 403) {
          const why = await res.text().then(
            (t) => ((JSON.parse(t) as { error?: { message?: string } }).error?.message ?? t).slice(0, 500),
            () => '',
          ).catch(() => '');
          const hint = token === undefined ? ' (give a reader token: --token or CANDOR_AUDITOR_TOKEN)' : '';
          throw new CandorError(res.status === 401 ? 'unauthenticated' : 'permission_denied', `GET ${url}: HTTP ${res.status} ${why}${hint}`);
        }
        await res.body?.cancel();
        if (res.status === 404) throw new CandorError('not_found', `GET ${url}: 404 Not Found`);
        throw new CandorError('unavailable', `GET ${url}: HTTP ${res.status}`);
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of res.body ?? []) {
        total += chunk.length;
        if (total > maxBytes) {
          await res.body?.cancel().catch(() => {});
          throw new CandorError('verification_failed', `GET ${url}: the response is larger than ${maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.length;
      }
      return out;
    } catch (err) {
      if (err instanceof CandorError) throw err;
      const why = signal.aborted ? `no answer within ${this.#timeoutMs} ms` : ((err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message);
      throw new CandorError('unavailable', `GET ${url}: ${why}`, { cause: err });
    }
  }
}

/**
 * Loads the tiles of the tree of `size` that hold the given nodes and returns a reader for them.
 * Each node is a complete subtree inside one tile (nodeLocation); tiles are fetched in parallel.
 */
export async function tileNodeReader(hasher: Hasher, size: number, nodes: ReadonlyArray<{ height: number; index: number }>, client: TileClient): Promise<NodeReader> {
  const tiles = new Map<string, Promise<Uint8Array>>();
  for (const { height, index } of nodes) {
    const loc = nodeLocation(height, index);
    const key = `${loc.level}/${loc.tile}`;
    if (tiles.has(key)) continue;
    const width = Math.min(TILE_WIDTH, rowWidth(size, loc.level) - loc.tile * TILE_WIDTH);
    tiles.set(key, client.hashTile(loc.level, loc.tile, width));
  }
  const loaded = new Map<string, Uint8Array>();
  await Promise.all([...tiles].map(async ([k, p]) => loaded.set(k, await p)));
  return (height, index) => {
    const loc = nodeLocation(height, index);
    const tile = loaded.get(`${loc.level}/${loc.tile}`);
    if (tile === undefined) throw new Error(`bad math: node ${height}/${index} was not loaded`);
    return subtreeHash(hasher, tile, loc.offset, loc.count);
  };
}

/** The hashes of a proof plan (inclusion or consistency ranges) in the tree of `size`, from its tiles. */
export async function proofFromTiles(hasher: Hasher, ranges: readonly LeafRange[], size: number, client: TileClient): Promise<Uint8Array[]> {
  return proofHashes(hasher, ranges, await tileNodeReader(hasher, size, proofNodes(ranges), client));
}

/** The RFC 9162 root of the tree of `size`, from its tiles. */
export async function treeHashFromTiles(hasher: Hasher, size: number, client: TileClient): Promise<Uint8Array> {
  if (size === 0) return hasher.empty;
  return treeHash(hasher, size, await tileNodeReader(hasher, size, proofNodes([[0, size]]), client));
}
