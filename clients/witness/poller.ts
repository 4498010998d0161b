/**
 * Polling mode, for logs that do not push to the witness: read the log's checkpoint and tiles
 * (c2sp.org/tlog-tiles), build the consistency proof from the witness's cosigned size to the new
 * checkpoint, and submit both through Witness.addCheckpoint, the same path an HTTP push takes.
 * The tiles are not trusted: a wrong tile yields a proof that addCheckpoint rejects.
 */
import type { Logger } from 'pino';
import { equal, fromUtf8, toBase64 } from '../../src/core/bytes.js';
import { openCheckpoint, parseCheckpoint } from '../../src/core/checkpoint.js';
import { CandorError } from '../../src/core/errors.js';
import { HASH_SIZE, portableHasher, type Hasher } from '../../src/core/hash.js';
import { consistencyProofRanges, proofHashes, proofNodes } from '../../src/core/merkle.js';
import { parseNote, parseVerifierKey } from '../../src/core/note.js';
import { TILE_WIDTH, nodeLocation, rowWidth, subtreeHash, tilePath, type TileRef } from '../../src/core/tile.js';
import type { Witness, WitnessResponse } from './witness.js';

export const DEFAULT_FETCH_TIMEOUT_MS = 10_000;
const MAX_CHECKPOINT_BYTES = 64 * 1024;
const MAX_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** A 409 means a push moved the state between our read and our submission; retry that often. */
const MAX_CONFLICTS = 3;

export interface PollOptions {
  witness: Witness;
  /** The log's tlog-tiles prefix, e.g. https://log.example.com/tevere. */
  url: string;
  /** Bound on each HTTP request, body included. */
  timeoutMs?: number;
  hasher?: Hasher;
}

export type PollOutcome =
  | { kind: 'unchanged'; origin: string; size: number }
  | { kind: 'submitted'; origin: string; size: number; oldSize: number; response: WitnessResponse };

/** One poll: fetch, verify, prove, submit. Throws on network, signature or configuration errors. */
export async function pollOnce(opts: PollOptions): Promise<PollOutcome> {
  const hasher = opts.hasher ?? portableHasher;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const base = opts.url.replace(/\/+$/, '');
  const got = await fetchBytes(`${base}/checkpoint`, timeoutMs, MAX_CHECKPOINT_BYTES);
  if (got.status !== 200) throw new CandorError('unavailable', `GET ${base}/checkpoint answered ${got.status}`);
  const note = fromUtf8(got.bytes, `GET ${base}/checkpoint`);
  const { origin } = parseCheckpoint(parseNote(note).text);
  const config = await opts.witness.store.getLog(origin);
  if (config === undefined) throw new CandorError('not_found', `${base} serves origin ${JSON.stringify(origin)}, which this witness does not witness`);
  // Verified here too, so that an unsigned checkpoint costs no tile fetches.
  const { checkpoint } = openCheckpoint(note, config.vkeys.map((k) => parseVerifierKey(k)), origin);

  for (let attempt = 0; ; attempt++) {
    const state = await opts.witness.store.getState(origin);
    if (state.size === checkpoint.size && equal(state.root, checkpoint.root)) {
      return { kind: 'unchanged', origin, size: checkpoint.size };
    }
    // A smaller or equal size goes in as is, so the witness itself answers (400 or 422) and logs.
    const proof =
      state.size > 0 && state.size < checkpoint.size
        ? await consistencyProof(hasher, state.size, checkpoint.size, (t) => fetchTile(base, t, timeoutMs))
        : [];
    const body = `old ${state.size}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
    const response = await opts.witness.addCheckpoint(body);
    if (response.status !== 409 || attempt + 1 >= MAX_CONFLICTS) {
      return { kind: 'submitted', origin, size: checkpoint.size, oldSize: state.size, response };
    }
  }
}

/**
 * The RFC 9162 §2.1.4.1 consistency proof from m to n, 0 < m < n, computed from the hash tiles of
 * the tree of size n: every node of the proof is a complete subtree, found in one tile.
 */
export async function consistencyProof(
  hasher: Hasher,
  m: number,
  n: number,
  fetchTile: (t: TileRef) => Promise<Uint8Array>,
): Promise<Uint8Array[]> {
  const ranges = consistencyProofRanges(m, n);
  const tiles = new Map<string, Promise<Uint8Array>>();
  const tileOf = (height: number, index: number) => {
    const loc = nodeLocation(height, index);
    return { loc, key: `${loc.level}/${loc.tile}` };
  };
  for (const node of proofNodes(ranges)) {
    const { loc, key } = tileOf(node.height, node.index);
    if (tiles.has(key)) continue;
    // The tile as published for size n: full, or partial with the hashes that exist at n.
    const width = Math.min(TILE_WIDTH, rowWidth(n, loc.level) - loc.tile * TILE_WIDTH);
    tiles.set(key, fetchTile({ level: loc.level, index: loc.tile, width }));
  }
  const fetched = new Map<string, Uint8Array>();
  await Promise.all([...tiles].map(async ([key, p]) => fetched.set(key, await p)));
  return proofHashes(hasher, ranges, (height, index) => {
    const { loc, key } = tileOf(height, index);
    return subtreeHash(hasher, fetched.get(key)!, loc.offset, loc.count);
  });
}

/**
 * Fetches a hash tile, falling back to the full tile when a partial one is gone (tlog-tiles lets
 * logs delete partial tiles once the full tile exists; the partial is its prefix).
 */
async function fetchTile(base: string, t: TileRef, timeoutMs: number): Promise<Uint8Array> {
  const want = t.width * HASH_SIZE;
  let got = await fetchBytes(`${base}/${tilePath(t)}`, timeoutMs, MAX_TILE_BYTES);
  if (got.status === 404 && t.width < TILE_WIDTH) {
    got = await fetchBytes(`${base}/${tilePath({ ...t, width: TILE_WIDTH })}`, timeoutMs, MAX_TILE_BYTES);
  }
  if (got.status !== 200) throw new CandorError('unavailable', `GET ${base}/${tilePath(t)} answered ${got.status}`);
  if (got.bytes.length < want || got.bytes.length % HASH_SIZE !== 0) {
    throw new CandorError('verification_failed', `tile ${tilePath(t)} has ${got.bytes.length} bytes, want ${want}`);
  }
  return got.bytes.subarray(0, want);
}

/** GET with a deadline covering headers and body, and a cap on the body size. */
async function fetchBytes(url: string, timeoutMs: number, maxBytes: number): Promise<{ status: number; bytes: Uint8Array }> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, { signal });
    if (res.status !== 200 || res.body === null) {
      await res.body?.cancel();
      return { status: res.status, bytes: new Uint8Array(0) };
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += chunk.length;
      if (total > maxBytes) {
        await res.body.cancel().catch(() => {});
        throw new CandorError('payload_too_large', `GET ${url}: response is larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    const bytes = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      bytes.set(c, off);
      off += c.length;
    }
    return { status: res.status, bytes };
  } catch (err) {
    if (err instanceof CandorError) throw err;
    const why = signal.aborted ? `timed out after ${timeoutMs} ms` : (err as Error).message;
    throw new CandorError('unavailable', `GET ${url}: ${why}`, { cause: err });
  }
}

export interface Poller {
  /** Stops polling and waits for a poll in progress. */
  stop(): Promise<void>;
}

/** Polls `url` every `intervalMs` (the first poll at once) until stopped; outcomes are logged. */
export function startPoller(opts: PollOptions & { intervalMs: number; logger?: Logger }): Poller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const log = opts.logger;
  const tick = async () => {
    try {
      const out = await pollOnce(opts);
      if (out.kind === 'unchanged') log?.debug({ url: opts.url, origin: out.origin, size: out.size }, 'log checkpoint unchanged');
      else if (out.response.status === 200) log?.info({ url: opts.url, origin: out.origin, size: out.size }, 'cosigned polled checkpoint');
      else {
        log?.warn(
          { url: opts.url, origin: out.origin, size: out.size, oldSize: out.oldSize, status: out.response.status, reason: out.response.body.trim() },
          'witness refused polled checkpoint',
        );
      }
    } catch (err) {
      log?.warn({ url: opts.url, err: (err as Error).message }, 'poll failed');
    }
  };
  const loop = () => {
    if (stopped) return;
    running = tick().then(() => {
      if (!stopped) timer = setTimeout(loop, opts.intervalMs);
    });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
