/**
 * Receipts: what the SDK keeps for each event the log acknowledged, and how it checks them with
 * the portable core only (no trust in the log): the checkpoint's signature against the log's
 * verifier keys, the leaf rebuilt from the event bytes the SDK sent and the fields the log added
 * (receive time, authenticated producer), and the inclusion proof of that leaf against the
 * checkpoint's root. A stored receipt is self-contained evidence that verifyReceipt re-checks
 * offline, years later.
 */
import { fromBinary } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { equal, toBase64 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { timestampNs } from '@candor/core/time';
import { portableHasher, type Hasher } from '@candor/core/hash';
import { verifyInclusion, verifyInclusions } from '@candor/core/merkle';
import { parseVerifierKey, type Ed25519, type NoteVerifier } from '@candor/core/note';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import type { AuthMethod, EventAck } from '@candor/schema/gen/candor/v1/log_service_pb';
import { encodeEventLeaf, parseEventLeaf, type EventLeaf, type LeafSignature } from '@candor/schema/leaf';
import { verifyLeafSignature } from '@candor/schema/signature';

export interface Receipt {
  index: number;
  treeSize: number;
  leafHash: Uint8Array;
  inclusionProof: Uint8Array[];
  /** The signed checkpoint the proof is against. */
  checkpoint: string;
  /** The leaf exactly as logged: the event bytes and what the log added. */
  leaf: Uint8Array;
  /** The event was logged before; this is its first leaf. */
  duplicate: boolean;
  receivedAt: Date;
}

function fail(message: string): never {
  throw new CandorError('verification_failed', message);
}

/**
 * Verifies checkpoints with the log's keys, remembering the last few it verified. `ed25519` is
 * the signature code to verify with (default the portable one, noble): every new checkpoint costs
 * one verification, so a Node gateway passes node:crypto's, about 10x faster (src/crypto/node.ts).
 */
export class CheckpointVerifier {
  readonly verifiers: NoteVerifier[];
  readonly origin: string | undefined;
  readonly #cache = new Map<string, Checkpoint>();

  constructor(logKeys: readonly string[], origin?: string, ed25519?: Ed25519) {
    if (logKeys.length === 0) throw new CandorError('invalid_argument', "give the log's verifier key (logKey)");
    this.verifiers = logKeys.map((k) => parseVerifierKey(k, ed25519));
    this.origin = origin ?? this.verifiers[0]!.name;
  }

  verify(note: string): Checkpoint {
    let cp = this.#cache.get(note);
    if (!cp) {
      cp = openCheckpoint(note, this.verifiers, this.origin).checkpoint;
      if (this.#cache.size >= 16) this.#cache.delete(this.#cache.keys().next().value!);
      this.#cache.set(note, cp);
    }
    return cp;
  }
}

/**
 * Checks the acknowledgements of a batch of events the caller sent (`events`: their bytes as
 * sent, in request order), all proved against one checkpoint, and returns their receipts. For a
 * new leaf, the leaf is rebuilt from what the caller knows plus the acknowledgement's receive
 * time; for a duplicate the log returns the first leaf, which must hold the same event bytes.
 * Every leaf's inclusion proof is verified against the checkpoint's root; the proofs are checked
 * together (verifyInclusions), so the path the batch's leaves share is hashed once, not once per
 * event, and any single bad proof still rejects the batch.
 */
export function checkAcks(
  a: {
    acks: readonly EventAck[];
    checkpoint: Checkpoint;
    note: string;
    producer: string;
    authMethod: AuthMethod;
    events: readonly Uint8Array[];
    /** The producer signature's fields for event i, if the batch was signed. */
    signature?: (i: number) => LeafSignature;
  },
  hasher: Hasher = portableHasher,
): Receipt[] {
  const { acks, checkpoint } = a;
  if (acks.length !== a.events.length) fail(`the log answered ${acks.length} acknowledgements for ${a.events.length} events`);
  const receipts: Receipt[] = new Array(acks.length);
  for (let i = 0; i < acks.length; i++) {
    const ack = acks[i]!;
    const index = Number(ack.index);
    const treeSize = Number(ack.treeSize);
    if (treeSize !== checkpoint.size) fail(`the acknowledgement is for tree size ${treeSize}, its checkpoint for ${checkpoint.size}`);
    let leaf: Uint8Array;
    if (ack.duplicate) {
      leaf = ack.leaf;
      const logged = parseEventLeaf(leaf);
      if (!equal(logged.event, a.events[i]!)) fail('the log answered a duplicate whose leaf holds another event');
      if (logged.producer !== a.producer) fail(`the duplicate's leaf names producer ${logged.producer}, not ${a.producer}`);
    } else {
      leaf = encodeEventLeaf({
        receivedAt: timestampNs(ack.receivedAt ?? fail('the acknowledgement has no received_at')),
        authMethod: a.authMethod,
        producer: a.producer,
        event: a.events[i]!,
        ...(a.signature ? { signature: a.signature(i) } : {}),
      });
    }
    const leafHash = hasher.leaf(leaf);
    if (!equal(leafHash, ack.leafHash)) fail(`the log acknowledged leaf hash ${toBase64(ack.leafHash)}, but the leaf hashes to ${toBase64(leafHash)}`);
    receipts[i] = {
      index,
      treeSize,
      leafHash,
      inclusionProof: ack.inclusionProof,
      checkpoint: a.note,
      leaf,
      duplicate: ack.duplicate,
      receivedAt: timestampDate(ack.receivedAt!),
    };
  }
  verifyInclusions(hasher, checkpoint.size, checkpoint.root, receipts.map((r) => ({ index: r.index, leafHash: r.leafHash, proof: r.inclusionProof })));
  return receipts;
}

export interface VerifiedReceipt {
  checkpoint: Checkpoint;
  leaf: EventLeaf;
  event: Event;
}

/**
 * Re-verifies a stored receipt, offline: the checkpoint's signature with the log's keys, the
 * leaf's inclusion, and, given the producer's verifier key, the producer's signature in the leaf.
 */
export function verifyReceipt(r: Receipt, logKeys: readonly string[], opts: { producerKey?: string; hasher?: Hasher } = {}): VerifiedReceipt {
  const hasher = opts.hasher ?? portableHasher;
  const checkpoint = new CheckpointVerifier(logKeys).verify(r.checkpoint);
  if (checkpoint.size !== r.treeSize) fail(`the receipt is for tree size ${r.treeSize}, its checkpoint for ${checkpoint.size}`);
  const leafHash = hasher.leaf(r.leaf);
  if (!equal(leafHash, r.leafHash)) fail('the receipt\'s leaf does not hash to its leaf hash');
  verifyInclusion(hasher, r.index, r.treeSize, leafHash, r.inclusionProof, checkpoint.root);
  const leaf = parseEventLeaf(r.leaf);
  if (opts.producerKey) verifyLeafSignature(leaf, parseVerifierKey(opts.producerKey), hasher);
  return { checkpoint, leaf, event: fromBinary(EventSchema, leaf.event) };
}
