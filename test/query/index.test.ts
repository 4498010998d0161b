// The indexes are written in the same atomic batch as the tree: after a SIGKILL under load, the
// index holds exactly the postings of the committed leaves (what a rebuild from the leaves
// writes), nothing beyond the checkpoint and nothing missing. Ingestion's blocks follow commit
// batches and a rebuild's fixed windows, so the comparison is of the decoded postings and time
// runs, not of the bytes; `candor index rebuild` reproduces the same postings.
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toJson } from '@bufbuild/protobuf';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { rebuildIndexes } from '../../src/query/rebuild.js';
import { LevelStore } from '../../src/storage/level.js';
import { INTEGRATED_AT, blockFirst, decodeBlock, parseTimeKey } from '../../src/storage/postings.js';
import { registerProducers } from '../grpc/helpers.js';
import { CLI, startLog, tempDir } from '../helpers/server.js';
import { httpSearch, ingest, startSearchLog, variedEvent } from './helpers.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the index says, whatever its blocks: each term's postings, and the time of each run. */
interface DecodedIndex {
  /** Term key prefix (hex) -> its indexes, ascending. */
  postings: Record<string, number[]>;
  /** [first index, ns] of each change of integrated_at, ascending. */
  times: [number, string][];
}

async function decodedIndex(store: LevelStore): Promise<DecodedIndex> {
  const postings: Record<string, number[]> = {};
  const runs: [number, string][] = [];
  for await (const { key, value } of store.indexRecords()) {
    if (key[1] === INTEGRATED_AT) {
      const { ns, first } = parseTimeKey(key);
      runs.push([first, String(ns)]);
      continue;
    }
    const term = Buffer.from(key.subarray(0, key.length - 8)).toString('hex');
    (postings[term] ??= []).push(...decodeBlock(blockFirst(key), value));
  }
  for (const list of Object.values(postings)) list.sort((a, b) => a - b);
  runs.sort((a, b) => a[0] - b[0]);
  // A run split at a batch or window boundary continues the same time: merge.
  const times = runs.filter((r, i) => i === 0 || runs[i - 1]![1] !== r[1]);
  return { postings, times };
}

async function indexKeys(store: LevelStore): Promise<string[]> {
  const out: string[] = [];
  for await (const { key } of store.indexRecords()) out.push(Buffer.from(key).toString('hex'));
  return out;
}

async function storeState(): Promise<{ size: number; index: DecodedIndex; rebuilt: DecodedIndex }> {
  const store = await LevelStore.open(join(dir, 'db'));
  try {
    const note = (await store.readCheckpoint())!;
    const size = parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size;
    const index = await decodedIndex(store);
    await rebuildIndexes(store);
    return { size, index, rebuilt: await decodedIndex(store) };
  } finally {
    await store.close();
  }
}

describe('indexes and the tree after a crash', () => {
  it('agree after SIGKILL under load, and a rebuild writes the same postings', async () => {
    const token = registerProducers(dir, [{ id: 'gw', tenants: ['org-1', 'org-2', 'org-3'] }]).gw!.token;
    const log = await startLog({ dir });
    let acked = 0;
    let stop = false;
    const writer = async (w: number) => {
      for (let r = 0; !stop && r < 1000; r++) {
        const eventMessages = Array.from({ length: 20 }, (_, i) => toJson(EventSchema, variedEvent(w * 100_000 + r * 20 + i)));
        try {
          const res = await fetch(`${log.url}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ eventMessages }) });
          if (res.status === 200) acked += 20;
          await res.arrayBuffer();
        } catch {
          return; // the server died
        }
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    while (acked < 400) await new Promise((r) => setTimeout(r, 20));
    await log.kill();
    stop = true;
    await Promise.all(writers);

    const { size, index, rebuilt } = await storeState();
    expect(size).toBeGreaterThanOrEqual(acked);
    // Every event has at least 7 postings; none points at or past the checkpoint's size.
    const all = Object.values(index.postings).flat();
    expect(all.length).toBeGreaterThanOrEqual(size * 7);
    expect(Math.max(...all)).toBeLessThan(size);
    // Each index is in the postings of exactly one event_id (field 1).
    const ids = Object.entries(index.postings).filter(([t]) => t.startsWith('7801')).flatMap(([, l]) => l);
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, i) => i));
    expect(index.times.length).toBeGreaterThan(0);
    expect(index.times[index.times.length - 1]![0]).toBeLessThan(size);
    expect(index).toEqual(rebuilt);
  }, 60_000);

  it('candor index rebuild drops and rebuilds every index record', async () => {
    const store = await LevelStore.open(join(dir, 'db'));
    const before = await decodedIndex(store);
    await store.clearIndexes();
    expect(await indexKeys(store)).toEqual([]);
    await store.close();
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'index', 'rebuild', '--data', dir], { timeout: 30_000 });
    expect(stdout).toMatch(/indexes rebuilt for [0-9]+ entries/);
    const again = await LevelStore.open(join(dir, 'db'));
    expect(await decodedIndex(again)).toEqual(before);
    await again.close();
  }, 60_000);
});

describe('config indexes: false', () => {
  it('writes no postings and does not serve search', async () => {
    const log = await startSearchLog({ indexes: false });
    try {
      await ingest(log, Array.from({ length: 20 }, (_, i) => variedEvent(i)));
      expect(await indexKeys(log.store as LevelStore)).toEqual([]);
      expect((await httpSearch(log.url, {})).status).toBe(404);
    } finally {
      await log.cleanup();
    }
  });
});
