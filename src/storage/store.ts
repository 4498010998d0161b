/**
 * The narrow storage interface between the log and where its bytes live. The sequencer is its
 * only writer. A driver stores four things (hash tiles, entries, the latest checkpoint, the
 * leaf-hash index) and must make each commit atomic and durable before it resolves: that is what
 * lets the log acknowledge an entry only once it can never be lost. An object-storage or SQL
 * driver implements this and nothing else changes.
 */

/** One integration batch, written all or nothing. */
export interface CommitBatch {
  /** Index of the first entry; entries are consecutive. */
  start: number;
  entries: readonly Uint8Array[];
  /**
   * Hash tiles whose contents changed: level, tile index and the tile's hashes so far (32 bytes
   * each, 1..256 of them). A driver overwrites the stored version; full tiles never change again,
   * and come with their interior (see core/tile.ts), which the driver stores with them.
   */
  tiles: readonly StoredTile[];
  /** New leaf hash -> index mappings. */
  leafIndex: readonly { hash: Uint8Array; index: number }[];
  /** The signed checkpoint for the tree after this batch. */
  checkpoint: string;
  /**
   * Search index terms per entry (aligned with `entries`; undefined for an opaque entry), written
   * in the same atomic batch so the index never disagrees with the tree. A store without
   * indexes ignores them.
   */
  terms?: readonly (EntryTerms | undefined)[];
}

/** What an entry is indexed by (src/query/terms.ts computes it; the store only lays it out). */
export interface EntryTerms {
  /** Exact-match terms: a field byte and a value (UTF-8, no NUL). */
  values: readonly { field: number; value: string }[];
  /** When the log received the entry, nanoseconds since the epoch; never decreases in log order. */
  integratedAt: bigint;
}

export interface StoredTile {
  level: number;
  index: number;
  hashes: Uint8Array;
  /** A full tile's nodes at within-tile heights 4..7 (core/tile.ts tileInterior). */
  interior?: Uint8Array;
}

/**
 * The widest run of entries a store reads at once: entries are stored in runs that never cross a
 * multiple of it, so reading any entries within one such run costs one store read. Readers that
 * fetch scattered entries (search) group them by it. Small, because a search that finds one event
 * per run reads the whole run from LevelDB: at 64, a page of 100 scattered results read about
 * 2.7 MB, and that read was most of the slowest searches' time (docs/search.md). Logs written
 * with wider runs still read (a reader seeks back to the run holding an entry).
 */
export const ENTRY_RUN = 16;

export interface LogStore {
  /** The latest committed checkpoint note, or undefined for a new log. */
  readCheckpoint(): Promise<string | undefined>;
  /** Tile (level, index): the full tile with its interior, or the widest partial version. */
  readTile(level: number, index: number): Promise<StoredTile | undefined>;
  /** Entries [start, end), which must all be committed. */
  readEntries(start: number, end: number): Promise<Uint8Array[]>;
  /** For each leaf hash, the index it was first logged at, or undefined. */
  lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]>;
  /** Writes a batch atomically and durably (synced) before resolving. */
  commit(batch: CommitBatch): Promise<void>;
  close(): Promise<void>;
}

/** A posting list in index order (or reverse), seekable: what search intersects. */
export interface PostingCursor {
  /** Forward: the smallest posting >= target; reverse: the largest <= target; undefined past the end. */
  seek(target: number): Promise<number | undefined>;
  /**
   * seek() answered from what the cursor has read, without I/O and synchronously; null when it
   * needs the store (then call seek). Optional: the search loop's fast path.
   */
  seekRead?(target: number): number | undefined | null;
  /** Store reads (keys) so far: what the cursor has cost, for a page's budget. */
  readonly reads: number;
  close(): Promise<void>;
}

/**
 * The search indexes a store keeps from CommitBatch.terms (src/query/search.ts reads them). A
 * separate interface: a LogStore need not have indexes.
 */
export interface SearchIndex {
  /** The entries with term (field, value), in the index window [lo, hi). */
  postings(field: number, value: string, lo: number, hi: number, reverse: boolean): PostingCursor;
  /** The first entry integrated at or after `ns` (integrated_at never decreases in log order). */
  firstIntegratedAtOrAfter(ns: bigint): Promise<number | undefined>;
  /**
   * The index from which the per-tenant terms (src/query/terms.ts PER_TENANT_FIELDS) are
   * indexed (Infinity: nowhere); below it a search uses the plain terms.
   */
  perTenantFrom(): number;
}
