/**
 * Rebuilds the search indexes from the leaves (`candor index rebuild`): drops every index record,
 * then recomputes each event leaf's terms with the same function ingestion uses (terms.ts). The
 * blocks cover windows of PAGE entries where ingestion's cover commit batches (which the log does
 * not record), so the bytes differ but every posting and time is the same: search answers the
 * same (tested). The log must not be serving (the store is opened exclusively).
 */
import { parseCheckpoint } from '../core/checkpoint.js';
import type { LevelStore } from '../storage/level.js';
import { leafTerms } from './terms.js';

const PAGE = 4096;

/** Rebuilds every index of the log in `store`; `progress` sees (entries done, tree size). Returns the tree size. */
export async function rebuildIndexes(store: LevelStore, progress?: (done: number, size: number) => void): Promise<number> {
  const note = await store.readCheckpoint();
  const size = note === undefined ? 0 : parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size;
  await store.clearIndexes();
  progress?.(0, size);
  for (let start = 0; start < size; start += PAGE) {
    const end = Math.min(size, start + PAGE);
    const leaves = await store.readEntries(start, end);
    await store.writeIndexes(start, leaves.map(leafTerms), end === size);
    progress?.(end, size);
  }
  return size;
}
