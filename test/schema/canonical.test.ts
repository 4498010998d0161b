// The fast canonical check (src/schema/canonical.ts) against the naive reference "decode,
// re-encode, compare", on valid encodings and on random mutations of them.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { SourceCodeInfoSchema, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { equal } from '@candor/core/bytes';
import { checkCanonical, decodeCanonical } from '@candor/schema/canonical';
import { ActorType, EventSchema, Outcome } from '@candor/schema/gen/candor/v1/event_pb';
import { SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';

function hasUnknown(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false;
  if (Array.isArray(v)) return v.some(hasUnknown);
  const o = v as Record<string, unknown>;
  if (Array.isArray(o.$unknown) && o.$unknown.length > 0) return true;
  return Object.values(o).some(hasUnknown);
}

function hasReplacement(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\ufffd');
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return false;
  return Object.values(v as object).some(hasReplacement);
}

/**
 * The reference: canonical iff it decodes, has no unknown fields, and re-encodes to itself.
 * Invalid UTF-8 counts as undecodable: proto3 strings (all of candor.v1) fail to decode with it,
 * and decodeEvent decodes after the canonical check; only proto2 strings decode it to U+FFFD.
 */
function reference(desc: DescMessage, bytes: Uint8Array): boolean | 'invalid' {
  let m;
  try {
    m = fromBinary(desc, bytes);
  } catch {
    return 'invalid';
  }
  if (hasReplacement(m)) return 'invalid';
  if (hasUnknown(m)) return false;
  try {
    return equal(toBinary(desc, m), bytes);
  } catch {
    return 'invalid';
  }
}

function fast(desc: DescMessage, bytes: Uint8Array): boolean {
  try {
    checkCanonical(desc, bytes, 'x');
    return true;
  } catch {
    return false;
  }
}

const event = (i: number) =>
  toBinary(
    EventSchema,
    create(EventSchema, {
      eventId: `ev-${i}`,
      producerEventId: `pe-${i}`,
      type: i % 2 ? 'session.ended' : 'review.vote.cast',
      occurredAt: timestampFromMs(1_760_000_000_123 + i),
      tenantId: 'org-1',
      actor: { id: 'u', type: ActorType.HUMAN, groups: ['a', 'b'], displayCommitment: new Uint8Array(32).fill(i) },
      resource: { name: 'db', tags: [{ key: 'env', value: 'prod' }, { key: 'pci', value: '' }] },
      outcome: i % 3 ? Outcome.SUCCESS : Outcome.FAILURE,
      seq: BigInt(i * 1_000_003),
      commitments: [{ field: 'x', digest: new Uint8Array(32) }],
      body:
        i % 2
          ? { case: 'sessionEnded', value: { exitCode: -i, statementCount: 3n, eventCount: 0n, truncated: i % 4 === 1, duration: { seconds: -5n, nanos: -7 } } }
          : { case: 'reviewVoteCast', value: { reviewId: 'r', decision: 1, selfVote: false } },
    }),
  );

const bases: [DescMessage, Uint8Array][] = [
  ...Array.from({ length: 8 }, (_, i) => [EventSchema, event(i)] as [DescMessage, Uint8Array]),
  [SubmitBatchResponseSchema, toBinary(SubmitBatchResponseSchema, create(SubmitBatchResponseSchema, { requestId: 3n, checkpoint: 'c\n', acks: [{ index: 1n, inclusionProof: [new Uint8Array(32), new Uint8Array(32)], duplicate: true }, {}] }))],
  // Packed repeated int32 (proto2 [packed = true]), which candor.v1 does not use yet.
  [SourceCodeInfoSchema, toBinary(SourceCodeInfoSchema, create(SourceCodeInfoSchema, { location: [{ path: [4, 0, 2, -1], span: [1, 2, 300000], leadingComments: 'x' }, { path: [] }] }))],
];

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('dup' as const), from: fc.nat(), n: fc.integer({ min: 1, max: 12 }) }),
);

function mutate(b: Uint8Array, m: fc.Arbitrary<unknown> extends never ? never : ReturnType<typeof pick>): Uint8Array {
  return m(b);
}
function pick(m: { kind: string; at?: number; bit?: number; bytes?: Uint8Array; n?: number; from?: number }): (b: Uint8Array) => Uint8Array {
  return (b) => {
    const at = (m.at ?? 0) % (b.length + 1);
    switch (m.kind) {
      case 'flip': {
        const c = b.slice();
        if (c.length) c[at % c.length]! ^= 1 << m.bit!;
        return c;
      }
      case 'insert':
        return Uint8Array.from([...b.subarray(0, at), ...m.bytes!, ...b.subarray(at)]);
      case 'delete':
        return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + m.n!)]);
      case 'append':
        return Uint8Array.from([...b, ...m.bytes!]);
      default: {
        const from = m.from! % (b.length + 1);
        return Uint8Array.from([...b, ...b.subarray(from, from + m.n!)]);
      }
    }
  };
}

describe('canonical check', () => {
  it('accepts every canonical encoding', () => {
    for (const [desc, b] of bases) {
      expect(reference(desc, b)).toBe(true);
      expect(fast(desc, b)).toBe(true);
    }
  });

  it('agrees with decode-re-encode-compare on random mutations', () => {
    let compared = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, ms) => {
        const [desc, base] = bases[which]!;
        let b = base;
        for (const m of ms) b = mutate(b, pick(m));
        const ref = reference(desc, b);
        if (ref === 'invalid') return;
        compared++;
        if (!ref) rejected++;
        expect({ fast: fast(desc, b), bytes: Buffer.from(b).toString('hex') }).toEqual({ fast: ref, bytes: Buffer.from(b).toString('hex') });
      }),
      { numRuns: 12_000 },
    );
    // The comparison was not vacuous: both verdicts occurred many times.
    expect(compared).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(300);
    expect(compared - rejected).toBeGreaterThan(20);
  });

  /**
   * decodeCanonical against the reference decoder: on every input it either gives what
   * fromBinary gives (as a deep, strict comparison: same properties, same values and types) or
   * throws, and it throws exactly where checkCanonical does or fromBinary cannot decode.
   */
  function sameAsFromBinary(desc: DescMessage, b: Uint8Array): 'decoded' | 'refused' {
    let canonical = true;
    try {
      checkCanonical(desc, b, 'x');
    } catch {
      canonical = false;
    }
    let ref: unknown;
    let refError: unknown;
    try {
      ref = fromBinary(desc, b);
    } catch (err) {
      refError = err;
    }
    let got: unknown;
    try {
      got = decodeCanonical(desc, b, 'x');
    } catch (err) {
      // Refused: not canonical, or protobuf-es cannot decode it either.
      expect({ canonical: canonical && refError === undefined, err: String(err), bytes: Buffer.from(b).toString('hex') }).toMatchObject({ canonical: false });
      return 'refused';
    }
    expect({ canonical, refError, bytes: Buffer.from(b).toString('hex') }).toEqual({ canonical: true, refError: undefined, bytes: Buffer.from(b).toString('hex') });
    expect(got).toStrictEqual(ref);
    return 'decoded';
  }

  it('decodes as fromBinary does, on valid encodings and on random mutations of them', () => {
    for (const [desc, b] of bases) expect(sameAsFromBinary(desc, b)).toBe('decoded');
    const seen = { decoded: 0, refused: 0 };
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 3 }), (which, ms) => {
        const [desc, base] = bases[which]!;
        let b = base;
        for (const m of ms) b = mutate(b, pick(m));
        seen[sameAsFromBinary(desc, b)]++;
      }),
      { numRuns: 12_000 },
    );
    expect(seen.decoded).toBeGreaterThan(500);
    expect(seen.refused).toBeGreaterThan(1000);
  });

  it('decodes as fromBinary does on random events (any Unicode, 64-bit and negative values)', () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(
        fc.record({
          id: fc.string({ unit: 'binary', maxLength: 12 }),
          groups: fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }), { maxLength: 3 }),
          seq: u64,
          seconds: fc.bigInt({ min: -62_135_596_800n, max: 253_402_300_799n }),
          nanos: fc.integer({ min: 0, max: 999_999_999 }),
          exitCode: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: undefined }),
          count: u64,
          durSeconds: fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
          commitment: fc.uint8Array({ maxLength: 33 }),
          outcome: fc.integer({ min: -3, max: 9 }),
        }),
        (r) => {
          const b = toBinary(
            EventSchema,
            create(EventSchema, {
              eventId: r.id,
              occurredAt: { seconds: r.seconds, nanos: r.nanos },
              actor: { id: r.id, groups: r.groups, displayCommitment: r.commitment },
              outcome: r.outcome,
              seq: r.seq,
              body: { case: 'sessionEnded', value: { exitCode: r.exitCode, eventCount: r.count, streamDigest: r.commitment, duration: { seconds: r.durSeconds, nanos: 0 } } },
            }),
          );
          expect(sameAsFromBinary(EventSchema, b)).toBe('decoded');
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('refuses invalid UTF-8 in a string as fromBinary does', () => {
    // event_id (field 1) holding 0xff.
    expect(() => fromBinary(EventSchema, Uint8Array.from([0x0a, 0x01, 0xff]))).toThrow();
    expect(() => decodeCanonical(EventSchema, Uint8Array.from([0x0a, 0x01, 0xff]), 'events[2]')).toThrow(/^events\[2\] is not a valid candor\.v1\.Event: /);
  });

  it('names what is wrong', () => {
    const b = event(1);
    expect(() => checkCanonical(EventSchema, Uint8Array.from([...b, 0xa0, 0x1f, 0x01]), 'events[3]')).toThrow(/^events\[3\] has unknown field 500/);
    // actor (field 7) with an unknown field 9 inside.
    const inner = toBinary(EventSchema, create(EventSchema, { actor: { id: 'u' } }));
    expect(() => checkCanonical(EventSchema, Uint8Array.from([0x3a, inner.length - 2 + 2, ...inner.subarray(2), 0x48, 0x01]), 'e')).toThrow(/^e\.actor has unknown field 9/);
    expect(() => checkCanonical(EventSchema, Uint8Array.from([0x60, 0x00]), 'e')).toThrow(/not canonically encoded \(e\.outcome: a zero implicit field is written\)/);
    expect(() => checkCanonical(EventSchema, Uint8Array.from([0x60, 0x81, 0x00]), 'e')).toThrow(/shortest form/);
    expect(() => checkCanonical(EventSchema, Uint8Array.from([0x60, 0x01, 0x1a, 0x01, 0x78]), 'e')).toThrow(/out of order/);
    expect(() => checkCanonical(EventSchema, Uint8Array.from([0x0a, 0x05, 0x41]), 'e')).toThrow(/is not a valid candor\.v1\.Event: a length runs past the end/);
  });
});
