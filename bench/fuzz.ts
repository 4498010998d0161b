/**
 * Property-based fuzzing (fast-check) of every parser that reads untrusted bytes. Each input is
 * either random or a valid sample with random edits (bit flips, deletions, insertions,
 * truncation), which reaches far deeper into a parser than random bytes alone. The property: the
 * parser returns or throws a CandorError; any other exception (a TypeError, a RangeError, "bad
 * math") is a bug. test/fuzz/ runs these with bounded counts in CI; `npm run bench -- fuzz`
 * runs larger counts and writes them to bench/RESULTS.md.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import fc from 'fast-check';
import { utf8 } from '@candor/core/bytes';
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { portableHasher } from '@candor/core/hash';
import { generateSignerKey, parseNote, parseSignerKey, parseVerifierKey, signNote } from '@candor/core/note';
import { encodeProofBundle, parseProofBundle } from '@candor/core/tlog-proof';
import { ENTRIES, parseTilePath, tilePath } from '@candor/core/tile';
import { decodeEvent } from '@candor/schema/encoding';
import { encodeEventLeaf, parseEventLeaf } from '@candor/schema/leaf';
import { ActorType, EventSchema, Outcome, SessionVerb } from '@candor/schema/gen/candor/v1/event_pb';
import { AuthMethod } from '@candor/schema/gen/candor/v1/log_service_pb';
import { addCheckpointBody } from '../src/witnessing/client.js';
import { parseAddCheckpoint } from '../src/witness/witness.js';

const ORIGIN = 'fuzz.example/log';
const key = generateSignerKey(ORIGIN);
const signer = parseSignerKey(key.skey).signer;
const verifier = parseVerifierKey(key.vkey);
const hash = (i: number) => portableHasher.leaf(utf8(String(i)));
const checkpointNote = signNote(formatCheckpoint({ origin: ORIGIN, size: 12, root: hash(12), extensions: [] }), [signer]);

/** A valid candor.v1.Event encoding, the seed the protobuf fuzzing edits. */
const sampleEvent = toBinary(
  EventSchema,
  create(EventSchema, {
    eventId: 'ev-1',
    producerEventId: 'pe-1',
    type: 'session.started',
    occurredAt: timestampFromMs(1_760_000_000_000),
    tenantId: 'org-1',
    actor: { id: 'usr_1', type: ActorType.HUMAN },
    source: { ip: '203.0.113.7', origin: 'cli' },
    resource: { name: 'pg-prod', type: 'database', subtype: 'postgres' },
    sessionId: 'ses-1',
    outcome: Outcome.SUCCESS,
    body: { case: 'sessionStarted', value: { verb: SessionVerb.CONNECT, protocol: 'postgres' } },
  }),
);

type Edit = { at: number; kind: 'flip' | 'delete' | 'insert' | 'truncate'; byte: number };

/** A sample with 1..4 random edits. */
export function edited(sample: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'delete', 'insert', 'truncate'), byte: fc.integer({ min: 0, max: 255 }) }) as fc.Arbitrary<Edit>;
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = Uint8Array.from(sample);
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % b.length;
      if (e.kind === 'flip' && b.length > 0) b[at]! ^= 1 << (e.byte % 8);
      else if (e.kind === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
      else if (e.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), e.byte, ...b.subarray(at)]);
      else b = b.slice(0, at);
    }
    return b;
  });
}

/** Random bytes, or an edited sample: half and half. */
export function bytesNear(...samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength: 512 }), ...samples.map(edited));
}

/** The same, as text (invalid UTF-8 replaced), for parsers that take strings. */
export function textNear(...samples: string[]): fc.Arbitrary<string> {
  return fc.oneof(fc.string({ maxLength: 300, unit: 'binary' }), ...samples.map((s) => edited(utf8(s)).map((b) => Buffer.from(b).toString('utf8'))));
}

/** Runs parse on input; only a CandorError may escape. */
function onlyCandorErrors<T>(parse: (input: T) => unknown): (input: T) => void {
  return (input) => {
    try {
      parse(input);
    } catch (err) {
      if (!(err instanceof CandorError)) throw err;
    }
  };
}

const tileSamples = [tilePath({ level: 0, index: 1_234_067, width: 256 }), tilePath({ level: 2, index: 7, width: 17 }), tilePath({ level: ENTRIES, index: 1000, width: 3 })];
const bundle = encodeProofBundle({ index: 5, proof: [hash(1), hash(2), hash(3)], checkpoint: checkpointNote, extra: utf8('entry') });
const witnessBody = addCheckpointBody(8, [hash(8), hash(9)], checkpointNote);
const leaf = encodeEventLeaf({ receivedAt: 1_760_000_000_000_000_000n, authMethod: AuthMethod.BEARER_TOKEN, producer: 'gw-1', event: sampleEvent });

/** One property per parser of untrusted input. */
export const PARSERS: { name: string; property: () => fc.IRawProperty<[string] | [Uint8Array]> }[] = [
  {
    name: 'tile paths (core/tile.ts parseTilePath)',
    property: () =>
      fc.property(textNear(...tileSamples), (p: string) => {
        try {
          // A path that parses is the one canonical name of its tile.
          if (tilePath(parseTilePath(p)) !== p) throw new Error(`non-canonical path accepted: ${p}`);
        } catch (err) {
          if (!(err instanceof CandorError)) throw err;
        }
      }),
  },
  {
    name: 'signed notes (core/note.ts parseNote)',
    property: () => fc.property(bytesNear(utf8(checkpointNote)), onlyCandorErrors((b: Uint8Array) => parseNote(b))),
  },
  {
    name: 'checkpoints (core/checkpoint.ts openCheckpoint, parseCheckpoint)',
    property: () =>
      fc.property(textNear(checkpointNote), (s: string) => {
        onlyCandorErrors((t: string) => parseCheckpoint(t.slice(0, t.indexOf('\n\n') + 1)))(s);
        try {
          // An edited note that still opens must be the original: the signature covers every byte.
          const opened = openCheckpoint(s, [verifier], ORIGIN);
          if (opened.text !== checkpointNote.slice(0, checkpointNote.indexOf('\n\n') + 1)) throw new Error('an altered checkpoint verified');
        } catch (err) {
          if (!(err instanceof CandorError)) throw err;
        }
      }),
  },
  {
    name: 'witness add-checkpoint bodies (src/witness parseAddCheckpoint)',
    property: () => fc.property(bytesNear(utf8(witnessBody)), onlyCandorErrors((b: Uint8Array) => parseAddCheckpoint(b))),
  },
  {
    name: 'proof bundles (core/tlog-proof.ts parseProofBundle)',
    property: () => fc.property(bytesNear(utf8(bundle)), onlyCandorErrors((b: Uint8Array) => parseProofBundle(b))),
  },
  {
    name: 'event leaves (schema/leaf.ts parseEventLeaf)',
    property: () => fc.property(bytesNear(leaf), onlyCandorErrors((b: Uint8Array) => parseEventLeaf(b))),
  },
  {
    name: 'protobuf events (schema/encoding.ts decodeEvent)',
    property: () => fc.property(bytesNear(sampleEvent), onlyCandorErrors((b: Uint8Array) => decodeEvent(b))),
  },
];

/** Runs one parser's property `runs` times; throws fast-check's report (with the seed) on failure. */
export function fuzzParser(p: (typeof PARSERS)[number], runs: number): void {
  fc.assert(p.property(), { numRuns: runs });
}
