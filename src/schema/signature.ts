/**
 * Producer signatures over batches of events (docs/leaf-format.md §Producer signatures).
 *
 * A producer signs once per request, not once per event: the event hashes of the request are the
 * leaves of an RFC 9162 Merkle tree, and the producer's Ed25519 key signs a signed-note
 * statement (c2sp.org/signed-note) naming the tree:
 *
 *   candor/event-batch/v1
 *   <number of events>
 *   <base64 root>
 *
 * The log verifies one signature per request, then stores in each leaf the signature, the batch
 * size, the event's position and its inclusion proof in the batch tree, so that every leaf is
 * verifiable alone: hash the event, climb the path to the root, check the signature. One
 * Ed25519 verification per request is what keeps signatures from capping ingest throughput.
 * A single signed event is a batch of one (an empty path).
 *
 * Portable: no Node built-ins; the gateway SDK signs and checks with this module.
 */
import { toBase64, utf8 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import type { Hasher } from '@candor/core/hash';
import { inclusionProof, rootFromInclusionProof, treeHash, type NodeReader } from '@candor/core/merkle';
import type { NoteSigner, NoteVerifier } from '@candor/core/note';
import { eventHash, portableDigest, type Digest } from './encoding.js';
import type { EventLeaf, LeafSignature } from './leaf.js';

export const BATCH_STATEMENT_HEADER = 'candor/event-batch/v1';

/** The text a producer signs for a batch of `count` events whose tree has root `root`. */
export function batchStatement(count: number, root: Uint8Array): Uint8Array {
  return utf8(`${BATCH_STATEMENT_HEADER}\n${count}\n${toBase64(root)}\n`);
}

/**
 * The RFC 9162 Merkle tree over a batch's event hashes: its root, and each event's path. Also
 * the session digest of session.ended (the tree over a session's event hashes).
 */
export class EventTree {
  readonly size: number;
  readonly #hasher: Hasher;
  /** levels[h][i]: the complete subtree of height h at index i. */
  readonly #levels: Uint8Array[][];
  readonly #read: NodeReader;
  readonly #edge = new Map<number, Uint8Array>();
  #root: Uint8Array | undefined;

  constructor(hasher: Hasher, eventHashes: readonly Uint8Array[]) {
    this.size = eventHashes.length;
    this.#hasher = hasher;
    const levels: Uint8Array[][] = [eventHashes.map((h) => hasher.leaf(h))];
    for (let h = 0; levels[h]!.length > 1; h++) {
      const below = levels[h]!;
      const up: Uint8Array[] = new Array(below.length >> 1);
      for (let i = 0; i + 1 < below.length; i += 2) up[i >> 1] = hasher.node(below[i]!, below[i + 1]!);
      levels.push(up);
    }
    this.#levels = levels;
    this.#read = (height, index) => {
      const n = levels[height]?.[index];
      if (!n) throw new Error('bad math: event tree node out of range');
      return n;
    };
  }

  root(): Uint8Array {
    this.#root ??= treeHash(this.#hasher, this.size, this.#read);
    return this.#root;
  }

  /** The inclusion proof of event `index` in the tree, leaf sibling first. */
  path(index: number): Uint8Array[] {
    return inclusionProof(this.#hasher, index, this.size, this.#read, this.#edge);
  }
}

/** The Merkle root over event hashes: the batch root, or a session's stream digest. */
export function eventsRoot(hasher: Hasher, eventHashes: readonly Uint8Array[]): Uint8Array {
  return new EventTree(hasher, eventHashes).root();
}

/** Signs a batch of events (their canonical encodings) with a producer's note signer. */
export function signEventBatch(
  signer: NoteSigner,
  events: readonly Uint8Array[],
  hasher: Hasher,
  digest: Digest = portableDigest,
): { keyId: number; signature: Uint8Array } {
  const tree = new EventTree(hasher, events.map((e) => eventHash(e, digest)));
  return { keyId: signer.keyId, signature: signer.sign(batchStatement(events.length, tree.root())) };
}

/**
 * Verifies the producer signature in an event leaf with the producer's verifier (whose name is
 * the leaf's producer). Throws CandorError('verification_failed') if it does not verify.
 */
export function verifyLeafSignature(leaf: EventLeaf, verifier: NoteVerifier, hasher: Hasher, digest: Digest = portableDigest): void {
  const s: LeafSignature | undefined = leaf.signature;
  if (!s) throw new CandorError('verification_failed', 'the leaf carries no producer signature');
  if (verifier.name !== leaf.producer) throw new CandorError('verification_failed', `the key is ${verifier.name}'s, the leaf is ${leaf.producer}'s`);
  if (verifier.keyId !== s.keyId) throw new CandorError('verification_failed', 'the leaf is signed by another key');
  const root = rootFromInclusionProof(hasher, s.batchIndex, s.batchSize, hasher.leaf(eventHash(leaf.event, digest)), s.path);
  if (!verifier.verify(batchStatement(s.batchSize, root), s.signature)) {
    throw new CandorError('verification_failed', 'the producer signature does not verify');
  }
}
