// The event leaf against a naive encoder written from docs/leaf-format.md, on random inputs;
// parsing is its exact inverse and refuses anything else.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { portableHasher } from '@candor/core/hash';
import { LEAF_MAGIC, encodeEventLeaf, isEventLeaf, parseEventLeaf, type EventLeaf } from '@candor/schema/leaf';

/** docs/leaf-format.md §Leaf, byte by byte, with Buffer and nothing shared with src/. */
function naiveLeaf(l: EventLeaf): Buffer {
  const parts: Buffer[] = [Buffer.from('candor/event/v1\n', 'ascii')];
  const u64 = Buffer.alloc(8);
  u64.writeBigUInt64BE(l.receivedAt);
  parts.push(u64, Buffer.from([l.authMethod]));
  const producer = Buffer.from(l.producer, 'utf8');
  parts.push(Buffer.from([producer.length]), producer);
  const elen = Buffer.alloc(2);
  elen.writeUInt16BE(l.event.length);
  parts.push(elen, Buffer.from(l.event));
  if (!l.signature) parts.push(Buffer.from([0]));
  else {
    const s = l.signature;
    const head = Buffer.alloc(1 + 4);
    head[0] = 1;
    head.writeUInt32BE(s.keyId, 1);
    const tail = Buffer.alloc(9);
    tail.writeUInt32BE(s.batchSize, 0);
    tail.writeUInt32BE(s.batchIndex, 4);
    tail[8] = s.path.length;
    parts.push(head, Buffer.from(s.signature), tail, ...s.path.map((h) => Buffer.from(h)));
  }
  return Buffer.concat(parts);
}

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const leafArb: fc.Arbitrary<EventLeaf> = fc
  .record({
    receivedAt: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    authMethod: fc.constantFrom(1, 2, 3),
    producer: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,40}$/),
    event: bytes(1, 300),
    signed: fc.boolean(),
    keyId: fc.nat({ max: 0xffffffff }),
    signature: bytes(64, 64),
    path: fc.array(bytes(32, 32), { maxLength: 12 }),
    batch: fc.tuple(fc.integer({ min: 1, max: 4096 }), fc.nat()),
  })
  .map((r) => ({
    receivedAt: r.receivedAt,
    authMethod: r.authMethod,
    producer: r.producer,
    event: r.event,
    ...(r.signed ? { signature: { keyId: r.keyId, signature: r.signature, batchSize: r.batch[0], batchIndex: r.batch[1] % r.batch[0], path: r.path } } : {}),
  }));

describe('event leaf', () => {
  it('matches the documented layout byte for byte, and parses back', () => {
    fc.assert(
      fc.property(leafArb, (l) => {
        const enc = encodeEventLeaf(l);
        expect(Buffer.from(enc).equals(naiveLeaf(l))).toBe(true);
        expect(parseEventLeaf(enc)).toEqual(l);
        // The leaf hash a third party computes: SHA-256(0x00 || leaf).
        const h = createHash('sha256').update(Buffer.from([0])).update(enc).digest();
        expect(Buffer.from(portableHasher.leaf(enc)).equals(h)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses truncated, extended and malformed leaves', () => {
    const l: EventLeaf = { receivedAt: 5n, authMethod: 1, producer: 'gw', event: Uint8Array.of(1, 2, 3), signature: { keyId: 7, signature: new Uint8Array(64), batchSize: 2, batchIndex: 1, path: [new Uint8Array(32)] } };
    const enc = encodeEventLeaf(l);
    for (let n = 0; n < enc.length; n++) expect(() => parseEventLeaf(enc.subarray(0, n))).toThrow(/malformed event leaf|not valid UTF-8/);
    expect(() => parseEventLeaf(Uint8Array.from([...enc, 0]))).toThrow(/trailing bytes/);
    const badAuth = enc.slice();
    badAuth[LEAF_MAGIC.length + 8] = 9;
    expect(() => parseEventLeaf(badAuth)).toThrow(/unknown auth method/);
    const badIndex = encodeEventLeaf({ ...l, signature: { ...l.signature!, batchIndex: 1, batchSize: 2 } });
    badIndex[badIndex.length - 32 - 1 - 4 + 3] = 5; // batch_index 5 of 2
    expect(() => parseEventLeaf(badIndex)).toThrow(/batch index/);
    expect(() => encodeEventLeaf({ ...l, producer: '' })).toThrow(/producer ID/);
    expect(() => encodeEventLeaf({ ...l, event: new Uint8Array(65_600) })).toThrow();
  });

  it('tells event leaves from opaque entries by the magic', () => {
    expect(isEventLeaf(LEAF_MAGIC)).toBe(true);
    expect(isEventLeaf(new TextEncoder().encode('candor/event/v2\n...'))).toBe(false);
    expect(isEventLeaf(new TextEncoder().encode('hello'))).toBe(false);
  });
});

describe('docs/leaf-format.md', () => {
  it("has a worked example that the code reproduces", () => {
    const doc = readFileSync(new URL('../../docs/leaf-format.md', import.meta.url), 'utf8');
    const example = doc.slice(doc.indexOf('## Worked example'));
    const field = (name: string) => new RegExp(`${name}[^\\n]*:\\n([0-9a-zA-Z+/=]+)\\n`).exec(example)![1]!;
    const event = Buffer.from(field('event \\('), 'hex');
    const leaf = encodeEventLeaf({ receivedAt: 1777905900123456000n, authMethod: 1, producer: 'gw-1', event });
    expect(Buffer.from(leaf).toString('hex')).toBe(field('leaf \\('));
    expect(createHash('sha256').update(event).digest('hex')).toBe(field('event hash'));
    expect(createHash('sha256').update(Buffer.from([0])).update(leaf).digest('base64')).toBe(field('leaf hash'));
    expect(parseEventLeaf(leaf).receivedAt).toBe(1777905900123456000n);
  });
});
