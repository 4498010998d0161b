/**
 * A LogStore wrapper that fails on command, for fault tests: commits that throw before writing
 * (a write error, a full disk: ENOSPC), or after writing (a sync whose outcome is unknown), and
 * reads that throw. It changes nothing while no fault is set. Never used by `candor serve`.
 */
import type { AheadEvidence, CommitBatch, LogStore, StoredTile, TileId } from './store.js';

export type StoreFault =
  /** commit throws before writing anything, as a failed write does */
  | 'write'
  /** commit throws ENOSPC before writing anything */
  | 'enospc'
  /** commit writes the batch, then throws, as a sync that reports failure after the data landed may */
  | 'sync'
  /** every read throws */
  | 'read';

function ioError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message} (simulated)`), { code });
}

export class FaultyStore implements LogStore {
  readonly #inner: LogStore;
  /** The current fault, or undefined for a healthy store. */
  fault: StoreFault | undefined;
  /** Commits that failed because of a fault. */
  failedCommits = 0;

  constructor(inner: LogStore) {
    this.#inner = inner;
  }

  #read(): void {
    if (this.fault === 'read') throw ioError('EIO', 'i/o error, read');
  }

  async readCheckpoint(): Promise<string | undefined> {
    this.#read();
    return this.#inner.readCheckpoint();
  }

  async readTiles(ids: readonly TileId[]): Promise<(StoredTile | undefined)[]> {
    this.#read();
    return this.#inner.readTiles(ids);
  }

  async storedEntries(): Promise<number> {
    this.#read();
    return this.#inner.storedEntries();
  }

  async readAhead(): Promise<AheadEvidence | undefined> {
    this.#read();
    return this.#inner.readAhead();
  }

  async recordAhead(evidence: AheadEvidence): Promise<void> {
    if (this.fault !== undefined && this.fault !== 'sync') throw ioError('EIO', 'i/o error, write');
    return this.#inner.recordAhead(evidence);
  }

  async readEntries(start: number, end: number): Promise<Uint8Array[]> {
    this.#read();
    return this.#inner.readEntries(start, end);
  }

  async lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]> {
    this.#read();
    return this.#inner.lookupLeafHashes(hashes);
  }

  async commit(batch: CommitBatch): Promise<void> {
    const f = this.fault;
    if (f === 'write' || f === 'read') {
      this.failedCommits++;
      throw ioError('EIO', 'i/o error, write');
    }
    if (f === 'enospc') {
      this.failedCommits++;
      throw ioError('ENOSPC', 'no space left on device, write');
    }
    await this.#inner.commit(batch);
    if (f === 'sync') {
      this.failedCommits++;
      throw ioError('EIO', 'i/o error, fsync');
    }
  }

  async afterFailedCommit(): Promise<void> {
    await this.#inner.afterFailedCommit?.();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
