/**
 * The narrow storage interface between the log and where its bytes live. The sequencer is its
 * only writer. A driver stores four things (hash tiles, entries, the latest checkpoint, the
 * leaf-hash index) and must make each commit atomic and durable before it resolves: that is what
 * lets the log acknowledge an entry only once it can never be lost. An object-storage or SQL
 * driver implements this and nothing else changes.
 */
import { CandorError } from '@candor/core/errors';

/** One integration batch, written all or nothing. */
export interface CommitBatch {
  /**
   * The checkpoint note this batch extends, byte for byte, or undefined for the first commit of a
   * new log. The store writes the batch only if its checkpoint is exactly this (none, when
   * undefined), checked atomically with the write; otherwise it writes nothing and throws
   * FencedError. This is what keeps two writers (two nodes, or one node and a restored copy of
   * its store) from both extending the tree: whoever loses learns it at its next commit.
   */
  previous: string | undefined;
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

export interface TileId {
  level: number;
  index: number;
}

export interface LogStore {
  /** The latest committed checkpoint note, or undefined for a new log. */
  readCheckpoint(): Promise<string | undefined>;
  /**
   * Tiles by (level, index), in the order asked: each the full tile with its interior, the widest
   * partial version, or undefined. One round trip for all of them, so that a proof missing
   * several tiles waits once.
   */
  readTiles(ids: readonly TileId[]): Promise<(StoredTile | undefined)[]>;
  /** Entries [start, end), which must all be committed. */
  readEntries(start: number, end: number): Promise<Uint8Array[]>;
  /**
   * One past the highest entry index the store holds (0 for none). Start-up compares it with the
   * checkpoint's size: a store holding entries past its checkpoint was rewound or mixed with
   * another copy (docs/fencing.md).
   */
  storedEntries(): Promise<number>;
  /** For each leaf hash, the index it was first logged at, or undefined. */
  lookupLeafHashes(hashes: readonly Uint8Array[]): Promise<(number | undefined)[]>;
  /**
   * Writes a batch atomically and durably (synced) before resolving, if the stored checkpoint is
   * batch.previous; otherwise writes nothing and throws FencedError.
   */
  commit(batch: CommitBatch): Promise<void>;
  /**
   * The largest checkpoint size the log is known to have published beyond its stored checkpoint
   * (a note of ours a client showed, or a size a witness cosigned), as recorded by recordAhead;
   * undefined when nothing was recorded. A log whose store is behind it refuses to sequence.
   */
  readAhead(): Promise<AheadEvidence | undefined>;
  /** Records evidence that the log published past its store (durably; the larger size wins). */
  recordAhead(evidence: AheadEvidence): Promise<void>;
  /**
   * Called after a commit failed, before the log reads its state back: brings the store to where
   * a commit can succeed again, or throws (retryable) while it cannot, and the log tries again at
   * its next batch. Optional: a store that recovers by itself has none. The LevelDB store reopens
   * its database, which keeps a failed write's error (or worse) until then.
   */
  afterFailedCommit?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Evidence that this log has signed a tree larger than its store holds: the store was rolled back
 * (a restored backup, a rewound checkpoint) or another writer has moved on.
 */
export interface AheadEvidence {
  size: number;
  /** Who showed it: "client", "witness <name>", "bucket", ... */
  source: string;
  /** The signed checkpoint note, when the evidence is one (a client's). */
  note?: string;
}

/**
 * A commit refused because the stored checkpoint is not the one the batch extends: another writer
 * has committed, or the store was replaced under the log. The sequencer that gets it stops
 * sequencing (src/log/sequencer.ts); it never reloads and builds on a tree it did not write.
 */
export class FencedError extends CandorError {
  constructor(message: string) {
    super('unavailable', message, { retryAfterMs: 1000 });
    this.name = 'FencedError';
  }
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
