// Batch signatures: the batch tree against the naive RFC 9162 reference on random sizes, every
// path verifying, and each leaf's signature checkable alone but not after any change.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { equal, toBase64 } from '@candor/core/bytes';
import { portableHasher } from '@candor/core/hash';
import { rootFromInclusionProof } from '@candor/core/merkle';
import { generateSignerKey, parseSignerKey, parseVerifierKey } from '@candor/core/note';
import { eventHash } from '@candor/schema/encoding';
import { encodeEventLeaf, parseEventLeaf, type EventLeaf } from '@candor/schema/leaf';
import { EventTree, batchStatement, eventsRoot, signEventBatch, verifyLeafSignature } from '@candor/schema/signature';
import { naiveMTH, naivePath } from '../helpers/naive.js';

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const naiveLeafHash = (h: Uint8Array) => new Uint8Array(createHash('sha256').update(Uint8Array.of(0)).update(h).digest());

describe('event batch tree', () => {
  it('has the RFC 9162 root and paths of the event hashes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { minLength: 1, maxLength: 70 }), (hashes) => {
        const tree = new EventTree(portableHasher, hashes);
        const leaves = hashes.map(naiveLeafHash);
        expect(equal(tree.root(), naiveMTH(leaves))).toBe(true);
        for (let i = 0; i < hashes.length; i++) {
          const path = tree.path(i);
          expect(path.map(toBase64)).toEqual(naivePath(i, leaves).map(toBase64));
          expect(equal(rootFromInclusionProof(portableHasher, i, hashes.length, leaves[i]!, path), tree.root())).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
    expect(equal(eventsRoot(portableHasher, [sha(Uint8Array.of(1))]), naiveLeafHash(sha(Uint8Array.of(1))))).toBe(true);
  });

  it('signs the documented statement', () => {
    const root = new Uint8Array(32).fill(7);
    expect(new TextDecoder().decode(batchStatement(3, root))).toBe(`candor/event-batch/v1\n3\n${Buffer.from(root).toString('base64')}\n`);
  });
});

describe('leaf signatures', () => {
  const { skey, vkey } = generateSignerKey('gw-1');
  const { signer } = parseSignerKey(skey);
  const verifier = parseVerifierKey(vkey);
  const events = Array.from({ length: 11 }, (_, i) => new TextEncoder().encode(`event ${i}`));
  const sig = signEventBatch(signer, events, portableHasher);
  const tree = new EventTree(portableHasher, events.map((e) => eventHash(e)));
  const leafOf = (i: number): EventLeaf =>
    parseEventLeaf(
      encodeEventLeaf({ receivedAt: 1n, authMethod: 1, producer: 'gw-1', event: events[i]!, signature: { ...sig, batchSize: events.length, batchIndex: i, path: tree.path(i) } }),
    );

  it('verifies every leaf of the batch on its own', () => {
    for (let i = 0; i < events.length; i++) verifyLeafSignature(leafOf(i), verifier, portableHasher);
  });

  it('fails for a changed event, position, path, batch size, producer or key', () => {
    const l = leafOf(4);
    const s = l.signature!;
    const other = parseVerifierKey(generateSignerKey('gw-1').vkey);
    const cases: [EventLeaf, RegExp][] = [
      [{ ...l, event: new TextEncoder().encode('event 5') }, /does not verify/],
      [{ ...l, signature: { ...s, batchIndex: 5 } }, /does not verify/],
      [{ ...l, signature: { ...s, path: [...s.path.slice(1), s.path[0]!] } }, /does not verify/],
      [{ ...l, signature: { ...s, batchSize: 12 } }, /does not verify|proof/],
      [{ ...l, producer: 'gw-2' }, /gw-1's, the leaf is gw-2's/],
      [{ ...l, signature: { ...s, signature: s.signature.map((b, i) => (i === 10 ? b ^ 1 : b)) } }, /does not verify/],
    ];
    for (const [leaf, message] of cases) expect(() => verifyLeafSignature(leaf, verifier, portableHasher)).toThrow(message);
    expect(() => verifyLeafSignature(l, other, portableHasher)).toThrow(/another key/);
    const { signature: _, ...unsigned } = l;
    expect(() => verifyLeafSignature(unsigned, verifier, portableHasher)).toThrow(/no producer signature/);
  });
});
