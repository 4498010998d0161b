/**
 * A LogStore in memory, for ceilings: the same sequencer and reader with storage that costs
 * nothing and syncs nothing. Never durable; benchmarks only.
 */
import { CandorError } from '@candor/core/errors';
import { FencedError, type AheadEvidence, type CommitBatch, type LogStore, type StoredTile, type TileId } from '../src/storage/store.js';

export class MemStore implements LogStore {
  #checkpoint: string | undefined;
  readonly #tiles = new Map<number, StoredTile>();
  readonly #entries: Uint8Array[] = [];
  readonly #leaves = new Map<string, number>();

  async readCheckpoint(): Promise<string | undefined> {
    return this.#checkpoint;
  }

  #ahead: AheadEvidence | undefined;

  async readTiles(ids: readonly TileId[]): Promise<(StoredTile | undefined)[]> {
    return ids.map((t) => this.#tiles.get(t.index * 64 + t.level));
  }

  async storedEntries(): Promise<number> {
    return this.#entries.length;
  }

  async readAhead(): Promise<AheadEvidence | undefined> {
    return this.#ahead;
  }

  async recordAhead(evidence: AheadEvidence): Promise<void> {
    if (!this.#ahead || evidence.size > this.#ahead.size) this.#ahead = evidence;
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    if (end > this.#entries.length) throw new CandorError('internal', `store is missing entries in [${start}, ${end})`);
    return this.#entries.slice(start, end);
  }

  async lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    return hashes.map((h) => this.#leaves.get(Buffer.from(h.buffer, h.byteOffset, h.byteLength).toString('latin1')));
  }

  async commit(b: CommitBatch): Promise<void> {
    if (b.previous !== this.#checkpoint) throw new FencedError('the store holds another checkpoint than the one this commit extends');
    if (b.start !== this.#entries.length) throw new CandorError('internal', `commit at ${b.start}, store holds ${this.#entries.length}`);
    for (const e of b.entries) this.#entries.push(e);
    for (const t of b.tiles) {
      const copy: StoredTile = { level: t.level, index: t.index, hashes: t.hashes.slice() };
      if (t.interior) copy.interior = t.interior.slice();
      this.#tiles.set(t.index * 64 + t.level, copy);
    }
    for (const { hash, index } of b.leafIndex) this.#leaves.set(Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('latin1'), index);
    this.#checkpoint = b.checkpoint;
  }

  async close(): Promise<void> {}
}
