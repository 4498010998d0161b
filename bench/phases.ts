/**
 * Where integration time goes, per entry: the sequencer's steps run one by one on a real store
 * (no pipelining), timed separately. Main-thread steps bound throughput; the waits for LevelDB
 * run on libuv's thread pool and overlap with the next batch in the real sequencer.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { inclusionProof } from '@candor/core/merkle';
import { generateSignerKey, parseSignerKey, signNote } from '@candor/core/note';
import { nodeEd25519, nodeHasher as H } from '../src/crypto/node.js';
import { TreeState } from '../src/log/tree.js';
import { LevelStore } from '../src/storage/level.js';
import { fmt } from './lib.js';

export interface Phase {
  name: string;
  thread: 'main' | 'pool';
  micros: number;
}

export async function phases(batch = 4096, rounds = 50): Promise<Phase[]> {
  const dir = mkdtempSync(join(tmpdir(), 'candor-phases-'));
  const store = await LevelStore.open(join(dir, 'db'));
  const tree = TreeState.empty(H);
  const signer = parseSignerKey(generateSignerKey('bench.example/log').skey, { crypto: nodeEd25519 }).signer;
  const data = Array.from({ length: rounds }, () => {
    const buf = randomBytes(batch * 64);
    return Array.from({ length: batch }, (_, i) => buf.subarray(i * 64, i * 64 + 64));
  });
  const t: Record<string, number> = {};
  const lap = (k: string, s: number) => {
    const n = performance.now();
    t[k] = (t[k] ?? 0) + (n - s);
    return n;
  };
  let previous: string | undefined;
  for (const entries of data) {
    let s = performance.now();
    const leafHashes = entries.map((e) => H.leaf(e));
    s = lap('leaf hashes', s);
    const lookup = store.lookupLeafHashes(leafHashes);
    s = lap('dedup lookup (JS side)', s);
    await lookup;
    s = lap('dedup lookup (LevelDB)', s);
    const seen = new Map<string, number>();
    leafHashes.forEach((h, i) => seen.set((h as Buffer).toString('latin1'), i));
    s = lap('dedup map', s);
    const start = tree.size;
    const appended = tree.append(leafHashes);
    s = lap('append (node hashes, tiles)', s);
    const checkpoint = signNote(formatCheckpoint({ origin: 'bench.example/log', size: appended.newSize, root: tree.root(), extensions: [] }), [signer]);
    s = lap('sign checkpoint', s);
    const commit = store.commit({ previous, start, entries, tiles: appended.tiles, leafIndex: leafHashes.map((hash, i) => ({ hash, index: start + i })), checkpoint });
    s = lap('commit (JS side)', s);
    await commit;
    previous = checkpoint;
    s = lap('commit (LevelDB write + fsync)', s);
    const edge = new Map<number, Uint8Array>();
    for (let i = 0; i < entries.length; i++) inclusionProof(H, start + i, appended.newSize, appended.read, edge);
    lap('acknowledgement proofs', s);
  }
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const n = batch * rounds;
  return Object.entries(t).map(([name, ms]) => ({ name, thread: name.includes('LevelDB') ? 'pool' : 'main', micros: (ms / n) * 1000 }));
}

export function phaseTable(ps: Phase[]): string {
  const main = ps.filter((p) => p.thread === 'main').reduce((a, p) => a + p.micros, 0);
  return `| step | thread | µs per entry |
|---|---|---:|
${ps.map((p) => `| ${p.name} | ${p.thread === 'main' ? 'main' : 'thread pool'} | ${fmt(p.micros, 2)} |`).join('\n')}
| **main thread total** | | **${fmt(main, 2)}** (at most ${fmt(1e6 / main)} entries/s) |`;
}
