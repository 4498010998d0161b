/**
 * The leader lease of a log run by several nodes on one shared store (docs/deployment.md, "High
 * availability"): one row naming the holder, its term and when the lease expires. Only the holder
 * sequences; the others follow and forward writes to the URL the holder advertised. The term grows
 * at every change of holder, so a node can tell a takeover from a renewal (trillian's
 * util/election2 and Sunlight's lock backend are the models: the store decides, by its own clock,
 * in one atomic statement).
 *
 * Safety does not rest on the lease: a commit still names the checkpoint it extends and a stale
 * leader's commit is fenced (docs/fencing.md). The lease keeps two nodes from taking turns fencing
 * each other, and tells followers where to send writes.
 */
export interface LeaseState {
  holder: string;
  term: number;
  /** Where the holder takes writes (its advertised HTTP URL). */
  url: string;
  /** Milliseconds until it expires, by the store's clock (<= 0: expired). */
  remainingMs: number;
}

export interface LeaderLease {
  /**
   * Takes the lease for `ttlMs` if it is free or expired, or extends it if `holder` holds it.
   * Resolves with the term held, or undefined when another live holder has it.
   */
  acquire(holder: string, url: string, ttlMs: number): Promise<number | undefined>;
  /** Extends a lease still held (same holder and term, not expired); false when it was lost. */
  renew(holder: string, term: number, ttlMs: number): Promise<boolean>;
  /** Gives the lease up at once (a clean shutdown), if still held. */
  release(holder: string, term: number): Promise<void>;
  /** The lease as the store has it, undefined before anyone took it. */
  current(): Promise<LeaseState | undefined>;
  close(): Promise<void>;
}
