/**
 * Rebuilds the search indexes from the leaves (`candor index rebuild`): drops every index record,
 * then recomputes each event leaf's terms with the same function ingestion uses (terms.ts). The
 * blocks cover merge windows (src/storage/merge.ts) where ingestion's cover commit batches until
 * merged, so the bytes differ but every posting and time is the same: search answers the same
 * (tested). The log must not be serving (the store is opened exclusively).
 */
import { parseCheckpoint } from '@candor/core/checkpoint';
import type { LevelStore } from '../storage/level.js';
import { MERGE_WINDOW } from '../storage/merge.js';
import type { EntryTerms } from '../storage/store.js';
import { leafTerms } from './terms.js';

/** Leaves read at once. */
const PAGE = 4096;

/** Rebuilds every index of the log in `store`; `progress` sees (entries done, tree size). Returns the tree size. */
export async function rebuildIndexes(store: LevelStore, progress?: (done: number, size: number) => void): Promise<number> {
  const note = await store.readCheckpoint();
  const size = note === undefined ? 0 : parseCheckpoint(note.slice(0, note.indexOf('\n\n') + 1)).size;
  await store.clearIndexes();
  progress?.(0, size);
  // One write per merge window: its blocks are merged as written.
  for (let start = 0; start < size; start += MERGE_WINDOW) {
    const end = Math.min(size, start + MERGE_WINDOW);
    const terms: (EntryTerms | undefined)[] = [];
    for (let page = start; page < end; page += PAGE) {
      const pageEnd = Math.min(end, page + PAGE);
      for (const leaf of await store.readEntries(page, pageEnd)) terms.push(leafTerms(leaf));
      progress?.(pageEnd, size);
    }
    await store.writeIndexes(start, terms, end === size);
  }
  return size;
}
