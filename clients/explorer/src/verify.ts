/**
 * What the explorer checks, with no DOM: a log read through its tlog-tiles (checkpoint, hash tiles,
 * entry bundles), so the same code serves the page at the log's / and the static build pointed at
 * a bucket. Nothing read is trusted: the checkpoint is opened with the pinned keys, the log is
 * proved consistent with the last checkpoint this browser verified, and every entry shown has its
 * leaf hash recomputed and its inclusion proved against the verified root.
 *
 * Each failure is a CheckFailed naming the check, so the page can say which one failed.
 */
import { TileClient, tileNodeReader } from '../../tiles/client.js';
import { equal, fromBase64, toBase64 } from '@candor/core/bytes';
import { portableHasher } from '@candor/core/hash';
import { consistencyProofRanges, inclusionProofRanges, proofHashes, proofNodes, verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { cosignatureTime, parseNote, parseVerifierKey, type NoteVerifier } from '@candor/core/note';
import { openWitnessedCheckpoint, parseProofBundle, quorumPolicy, verifyProofBundle, type CosignaturePolicy } from '@candor/core/tlog-proof';
import { TILE_WIDTH } from '@candor/core/tile';
import { EXPORT_FORMAT, ExportVerifier } from './schema.js';

const hasher = portableHasher;

/** The names of the checks, as the page shows them. */
export const CHECK = {
  keys: 'pinned keys',
  fetch: 'reading the log',
  signature: 'checkpoint signature',
  cosignatures: 'witness cosignatures',
  consistency: 'consistency with the checkpoint this browser saw last',
  leafHash: 'leaf hash',
  inclusion: 'inclusion proof',
  bundle: 'proof bundle',
  export: 'export bundle',
} as const;

export class CheckFailed extends Error {
  constructor(
    readonly check: string,
    message: string,
  ) {
    super(message);
  }
}

async function check<T>(name: string, f: () => T | Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    throw new CheckFailed(name, err instanceof Error ? err.message : String(err));
  }
}

/** What the user pinned: the log's verifier key, witness keys and how many must cosign. */
export interface Trust {
  url: string;
  vkey: string;
  witnesses: string[];
  quorum: number;
}

/** The last checkpoint this browser verified, for the next consistency proof. */
export interface Seen {
  size: number;
  root: string;
  at: number;
}

export interface Cosignature {
  witness: string;
  size: number;
  time: Date;
}

export interface VerifiedCheckpoint {
  note: string;
  origin: string;
  size: number;
  root: Uint8Array;
  cosignatures: Cosignature[];
  /** What was proved about the previous checkpoint: undefined on the first visit. */
  grewFrom?: { size: number; at: number };
}

export interface VerifiedEntry {
  index: number;
  entry: Uint8Array;
  leafHash: Uint8Array;
  proof: Uint8Array[];
  size: number;
}

interface Keys {
  log: NoteVerifier;
  policy?: CosignaturePolicy;
}

export function parseTrust(t: Trust): Keys {
  const log = parseVerifierKey(t.vkey.trim());
  if (t.witnesses.length === 0) return { log };
  return { log, policy: quorumPolicy(t.witnesses.map((w) => parseVerifierKey(w.trim())), t.quorum) };
}

/** Opens a checkpoint note with the pinned keys; the cosignature times come from the verified signatures. */
export function openTrusted(note: string, keys: Keys): Omit<VerifiedCheckpoint, 'grewFrom'> {
  const { checkpoint, cosigners } = openWitnessedCheckpoint(note, { logVerifiers: [keys.log], ...(keys.policy ? { policy: keys.policy } : {}) });
  const sigs = parseNote(note).signatures;
  const cosignatures = cosigners.map((w) => {
    const s = sigs.find((x) => x.name === w.name && x.keyId === w.keyId)!;
    return { witness: w.name, size: checkpoint.size, time: new Date(Number(cosignatureTime(s.sig)) * 1000) };
  });
  return { note, origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root, cosignatures };
}

export class VerifiedLog {
  readonly client: TileClient;
  readonly #keys: Keys;
  #bundles = new Map<string, Promise<Uint8Array[]>>();
  /** Leaf bytes an API answer carried (search hits): unverified until entry() checks them. */
  #offered = new Map<number, Uint8Array>();
  checkpoint?: VerifiedCheckpoint;

  /** `token`: the reader's token, sent with entry bundle requests (a log whose entries are not public). */
  constructor(trust: Trust, token: () => string | undefined = () => undefined) {
    this.#keys = parseTrust(trust);
    this.client = new TileClient(trust.url, { token });
  }

  /**
   * Reads and verifies the log's checkpoint, then proves it consistent with `seen` (the last one
   * this browser verified). A smaller tree, a different root at the same size or a bad proof fails.
   */
  async refresh(seen: Seen | undefined): Promise<VerifiedCheckpoint> {
    const note = await check(CHECK.fetch, () => this.client.checkpoint());
    await check(CHECK.signature, () => openTrusted(note, { log: this.#keys.log }));
    const cp: VerifiedCheckpoint = await check(CHECK.cosignatures, () => openTrusted(note, this.#keys));
    if (seen && seen.size > 0) {
      await check(CHECK.consistency, async () => {
        const old = fromBase64(seen.root, 'stored root');
        if (cp.size < seen.size) throw new Error(`the log now shows ${cp.size} entries, fewer than the ${seen.size} this browser verified before: it did not only grow`);
        if (cp.size === seen.size) {
          if (!equal(old, cp.root)) throw new Error(`the tree of ${cp.size} entries has a different root than the one this browser verified before`);
        } else {
          const ranges = consistencyProofRanges(seen.size, cp.size);
          const proof = proofHashes(hasher, ranges, await tileNodeReader(hasher, cp.size, proofNodes(ranges), this.client));
          verifyConsistency(hasher, seen.size, cp.size, old, cp.root, proof);
        }
      });
      cp.grewFrom = { size: seen.size, at: seen.at };
    }
    this.checkpoint = cp;
    return cp;
  }

  /**
   * Leaf bytes for `index` from another source than the entry bundle (a search hit carries its
   * leaf): entry() then checks these bytes exactly as it checks a bundle's, against the leaf hash
   * the public hash tiles publish and the inclusion proof. An auditor of one tenant, who may not
   * read entry bundles (they hold every tenant's events), can so verify what the search shows.
   */
  offer(index: number, leaf: Uint8Array): void {
    this.#offered.set(index, leaf);
  }

  /** Entry `index` of the verified tree: its bytes (offered, or from the entry bundle), leaf hash and inclusion checked. */
  async entry(index: number): Promise<VerifiedEntry> {
    const cp = this.checkpoint;
    if (!cp) throw new Error('no verified checkpoint yet');
    const size = cp.size;
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new CheckFailed(CHECK.inclusion, `entry ${index} is not in the verified tree of ${size} entries`);
    const entry = this.#offered.get(index) ?? (await check(CHECK.fetch, () => this.#fromBundle(index, size)));
    const leafHash = hasher.leaf(entry);
    const ranges = inclusionProofRanges(index, size);
    const read = await check(CHECK.fetch, () => tileNodeReader(hasher, size, [{ height: 0, index }, ...proofNodes(ranges)], this.client));
    // The tiles publish every leaf hash: an entry that does not hash to its published leaf hash
    // was altered (in the bundle or in transit), which is a different failure from a bad proof.
    await check(CHECK.leafHash, () => {
      if (!equal(read(0, index), leafHash)) throw new Error(`the bytes of entry ${index} hash to ${toBase64(leafHash)}, not to the leaf hash the log publishes for it`);
    });
    const proof = proofHashes(hasher, ranges, read);
    await check(CHECK.inclusion, () => verifyInclusion(hasher, index, size, leafHash, proof, cp.root));
    return { index, entry, leafHash, proof, size };
  }

  async #fromBundle(index: number, size: number): Promise<Uint8Array> {
    const bundle = Math.floor(index / TILE_WIDTH);
    const width = Math.min(TILE_WIDTH, size - bundle * TILE_WIDTH);
    const key = `${bundle}/${width}`;
    let p = this.#bundles.get(key);
    if (!p) {
      p = this.client.entryBundle(bundle, width);
      this.#bundles.set(key, p);
      p.catch(() => this.#bundles.delete(key));
    }
    return (await p)[index % TILE_WIDTH]!;
  }
}

export type FileVerdict =
  | { kind: 'proof'; index: number; size: number; origin: string; leafHash: Uint8Array }
  | { kind: 'export'; count: number; size: number; origin: string; first?: number; last?: number };

/**
 * A dropped file, verified offline with the pinned keys: a signed export bundle (docs/export.md;
 * every event's proof, the manifest's signature, count and digest) or a tlog-proof bundle.
 */
export function verifyFile(text: string, trust: Trust): FileVerdict {
  const keys = parseTrust(trust);
  const opts = { logVerifiers: [keys.log], ...(keys.policy ? { policy: keys.policy } : {}) };
  if (text.startsWith(`{"format":"${EXPORT_FORMAT}"`)) {
    try {
      const v = new ExportVerifier(opts);
      for (const line of text.split('\n')) if (line !== '') v.line(line);
      const r = v.finish();
      return { kind: 'export', count: r.count, size: r.checkpoint.size, origin: r.checkpoint.origin, ...(r.manifest.first !== undefined ? { first: r.manifest.first } : {}), ...(r.manifest.last !== undefined ? { last: r.manifest.last } : {}) };
    } catch (err) {
      throw new CheckFailed(CHECK.export, err instanceof Error ? err.message : String(err));
    }
  }
  try {
    const b = parseProofBundle(text);
    const v = verifyProofBundle(b, opts);
    return { kind: 'proof', index: v.index, size: v.checkpoint.size, origin: v.checkpoint.origin, leafHash: v.leafHash };
  } catch (err) {
    throw new CheckFailed(CHECK.bundle, err instanceof Error ? err.message : String(err));
  }
}
