import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toBase64, utf8 } from '@candor/core/bytes';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { CompactRange, inclusionProof, type NodeReader } from '@candor/core/merkle';
import { SIG_COSIGNATURE_V1, generateSignerKey, parseSignerKey, parseVerifierKey, signNote, type NoteSigner } from '@candor/core/note';
import {
  PROOF_HEADER,
  encodeProofBundle,
  parseProofBundle,
  quorumPolicy,
  verifyProofBundle,
  type ProofBundle,
} from '@candor/core/tlog-proof';
import { naiveLeaf, naivePath } from '../helpers/naive.js';
import { loadVectors } from '../helpers/vectors.js';

const ORIGIN = 'proof.candor.test/log';
const logKey = generateSignerKey(ORIGIN, randomBytes(32));
const logSigner = parseSignerKey(logKey.skey).signer;
const logV = parseVerifierKey(logKey.vkey);
const witnessKeys = [1, 2, 3].map((i) => parseSignerKey(generateSignerKey(`w${i}.candor.test`, randomBytes(32)).skey, { type: SIG_COSIGNATURE_V1 }));
const witnessV = witnessKeys.map((k) => parseVerifierKey(k.vkey));

/** A log of `n` entries built with the core, and a bundle for entry `index` signed by `signers`. */
function fixture(n: number, index: number, signers: NoteSigner[] = [logSigner, witnessKeys[0]!.signer, witnessKeys[1]!.signer]) {
  const entries = Array.from({ length: n }, (_, i) => utf8(`entry ${i}`));
  const nodes = new Map<string, Uint8Array>();
  const range = new CompactRange(H);
  for (const e of entries) range.append(H.leaf(e), (h, i, hash) => nodes.set(`${h}/${i}`, hash));
  const read: NodeReader = (h, i) => nodes.get(`${h}/${i}`)!;
  const checkpoint = signNote(formatCheckpoint({ origin: ORIGIN, size: n, root: range.root(), extensions: [] }), signers);
  const bundle: ProofBundle = { extra: entries[index]!, index, proof: inclusionProof(H, index, n, read), checkpoint };
  return { entries, bundle, text: encodeProofBundle(bundle) };
}

const opts = { logVerifiers: [logV] };

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** The last character of a 32-byte base64 value carries 2 unused bits; setting one keeps the bytes, breaks canonical form. */
const nonCanonical = (c: string) => B64[B64.indexOf(c) | 1]!;
const two = quorumPolicy(witnessV.slice(0, 2), 2);

describe('tlog-proof encoding (c2sp.org/tlog-proof)', () => {
  it('has the layout of the spec: header, extra, index, proof lines, empty line, checkpoint verbatim', () => {
    const { bundle, text } = fixture(10, 3);
    const lines = text.split('\n');
    expect(lines[0]).toBe(PROOF_HEADER);
    expect(lines[1]).toBe(`extra ${toBase64(utf8('entry 3'))}`);
    expect(lines[2]).toBe('index 3');
    expect(lines.slice(3, 3 + bundle.proof.length)).toEqual(bundle.proof.map(toBase64));
    expect(lines[3 + bundle.proof.length]).toBe('');
    expect(text.endsWith(`\n\n${bundle.checkpoint}`)).toBe(true);
    expect(parseProofBundle(text)).toEqual(bundle);
    expect(parseProofBundle(utf8(text))).toEqual(bundle);
  });

  it('round-trips without extra and with an empty proof (a tree of one entry)', () => {
    const { bundle } = fixture(1, 0);
    const noExtra = { index: 0, proof: bundle.proof, checkpoint: bundle.checkpoint };
    expect(bundle.proof).toEqual([]);
    const text = encodeProofBundle(noExtra);
    expect(text.startsWith(`${PROOF_HEADER}\nindex 0\n\n`)).toBe(true);
    expect(parseProofBundle(text)).toEqual(noExtra);
  });

  it('matches the naive RFC 9162 audit path on random trees, and verifies', () => {
    for (let trial = 0; trial < 40; trial++) {
      const n = 1 + Math.floor(Math.random() * 600);
      const index = Math.floor(Math.random() * n);
      const { entries, text } = fixture(n, index);
      const parsed = parseProofBundle(text);
      expect(parsed.proof).toEqual(naivePath(index, entries.map(naiveLeaf)));
      expect(verifyProofBundle(parsed, { ...opts, policy: two }).index).toBe(index);
    }
  });

  it('carries the published RFC 6962 reference inclusion proofs', () => {
    const tree = loadVectors('rfc6962-merkle-tree.json');
    const ref = loadVectors('rfc6962-reference-proofs.json');
    for (const c of ref.inclusion as Array<{ leaf_index: number; tree_size: number; proof_hex: string[] }>) {
      const root = fromHex(tree.root_hashes_hex_by_size[c.tree_size]);
      const checkpoint = signNote(formatCheckpoint({ origin: ORIGIN, size: c.tree_size, root, extensions: [] }), [logSigner]);
      const bundle = { extra: fromHex(tree.leaves_hex[c.leaf_index]), index: c.leaf_index, proof: c.proof_hex.map((h) => fromHex(h)), checkpoint };
      const v = verifyProofBundle(parseProofBundle(encodeProofBundle(bundle)), opts);
      expect(v.leafHash).toEqual(H.leaf(bundle.extra));
    }
  });

  it.each([
    ['no header', (t: string) => t.replace(`${PROOF_HEADER}\n`, '')],
    ['another version', (t: string) => t.replace('@v1', '@v2')],
    ['CRLF line endings', (t: string) => t.replace(/\n/g, '\r\n')],
    ['an index with a leading zero', (t: string) => t.replace('index 3', 'index 03')],
    ['a negative index', (t: string) => t.replace('index 3', 'index -3')],
    ['no index line', (t: string) => t.replace('index 3\n', '')],
    ['extra after the index', (t: string) => t.replace(/^(extra .*)\n(index 3)\n/m, '$2\n$1\n')],
    ['non-canonical base64 (unused bits set)', (t: string) => t.replace(/\nindex 3\n([^\n]{42})([^\n])=\n/, (_, head, last) => `\nindex 3\n${head}${nonCanonical(last)}=\n`)],
    ['base64 without padding', (t: string) => t.replace(/\nindex 3\n([^\n]{43})=\n/, '\nindex 3\n$1\n')],
    ['a 31-byte hash', (t: string) => t.replace(/\nindex 3\n[^\n]+\n/, `\nindex 3\n${toBase64(new Uint8Array(31))}\n`)],
    ['no empty line before the checkpoint', (t: string) => t.replace(/\n\n/, '\n')],
    ['a malformed checkpoint', (t: string) => t.replace(`\n\n${ORIGIN}\n10\n`, `\n\n${ORIGIN}\n010\n`)],
    ['65 proof hashes', (t: string) => t.replace('index 3\n', `index 3\n${`${toBase64(new Uint8Array(32))}\n`.repeat(65)}`)],
  ])('rejects %s as malformed (400, not 500)', (_, mutate) => {
    const { text } = fixture(10, 3);
    const bad = mutate(text);
    expect(bad).not.toBe(text);
    expect(() => parseProofBundle(bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('refuses to encode a bad bundle', () => {
    const { bundle } = fixture(10, 3);
    expect(() => encodeProofBundle({ ...bundle, index: -1 })).toThrow(/index/);
    expect(() => encodeProofBundle({ ...bundle, proof: [new Uint8Array(31)] })).toThrow(/32 bytes/);
    expect(() => encodeProofBundle({ ...bundle, checkpoint: 'not a note\n' })).toThrow(/malformed/);
  });
});

describe('tlog-proof verification', () => {
  it('verifies log signature, policy and inclusion, and reports the cosigners', () => {
    const { bundle } = fixture(300, 257);
    const v = verifyProofBundle(bundle, { ...opts, policy: two });
    expect(v.checkpoint).toMatchObject({ origin: ORIGIN, size: 300 });
    expect(v.entry).toEqual(utf8('entry 257'));
    expect(v.cosigners.map((c) => c.name)).toEqual(['w1.candor.test', 'w2.candor.test']);
    // 2 of 3, with the third witness absent, is still met.
    expect(verifyProofBundle(bundle, { ...opts, policy: quorumPolicy(witnessV, 2) }).cosigners).toHaveLength(2);
  });

  const fail = (b: ProofBundle, o: Parameters<typeof verifyProofBundle>[1], why: RegExp) =>
    expect(() => verifyProofBundle(b, o)).toThrow(expect.objectContaining({ code: 'verification_failed', message: expect.stringMatching(why) }));

  it('rejects each tampered field', () => {
    const { bundle } = fixture(300, 257);
    fail({ ...bundle, index: 256 }, opts, /inclusion proof does not lead to the root/);
    fail({ ...bundle, index: 300 }, opts, /not below tree size 300/);
    fail({ ...bundle, extra: utf8('entry 258') }, opts, /does not lead to the root/);
    const flipped = bundle.proof.map((h) => h.slice());
    flipped[2]![0]! ^= 1;
    fail({ ...bundle, proof: flipped }, opts, /does not lead to the root/);
    fail({ ...bundle, proof: bundle.proof.slice(1) }, opts, /too short|does not lead/);
    fail({ ...bundle, proof: [...bundle.proof, bundle.proof[0]!] }, opts, /too long/);
    // The checkpoint's root changed: the log's signature no longer verifies.
    const lines = bundle.checkpoint.split('\n');
    lines[2] = toBase64(new Uint8Array(32));
    fail({ ...bundle, checkpoint: lines.join('\n') }, opts, /invalid signature for key proof.candor.test\/log/);
  });

  it('requires the log signature, the right origin, and the witness policy', () => {
    const cosignedOnly = fixture(20, 5, [witnessKeys[0]!.signer, witnessKeys[1]!.signer]).bundle;
    fail(cosignedOnly, { ...opts, policy: two }, /no valid signature by the log key/);
    const stranger = parseVerifierKey(generateSignerKey(ORIGIN, randomBytes(32)).vkey);
    fail(fixture(20, 5).bundle, { logVerifiers: [stranger] }, /no signature from a known key/);
    fail(fixture(20, 5).bundle, { ...opts, origin: 'other.candor.test/log' }, /origin "proof.candor.test\/log", not "other.candor.test\/log"/);

    const oneCosig = fixture(20, 5, [logSigner, witnessKeys[0]!.signer]).bundle;
    fail(oneCosig, { ...opts, policy: two }, /cosigned by 1 of the trusted witnesses \(w1.candor.test\); the policy needs 2 of 2 witnesses/);
    expect(verifyProofBundle(oneCosig, { ...opts, policy: quorumPolicy(witnessV.slice(0, 2), 1) }).cosigners).toHaveLength(1);
    // A cosignature line by a trusted witness that does not verify rejects the checkpoint (x/mod note.Open).
    const { bundle } = fixture(20, 5);
    const sigLines = bundle.checkpoint.split('\n');
    const w2 = sigLines.findIndex((l) => l.startsWith('— w2.candor.test '));
    sigLines[w2] = sigLines[w2]!.replace(/.{6}$/, (s) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1));
    fail({ ...bundle, checkpoint: sigLines.join('\n') }, { ...opts, policy: two }, /invalid signature for key w2.candor.test/);
  });

  it('takes the entry or leaf hash from the caller when the bundle has none', () => {
    const { bundle } = fixture(50, 9);
    const bare = { index: bundle.index, proof: bundle.proof, checkpoint: bundle.checkpoint };
    expect(() => verifyProofBundle(bare, opts)).toThrow(expect.objectContaining({ code: 'invalid_argument', message: expect.stringMatching(/carries no entry/) }));
    expect(verifyProofBundle(bare, { ...opts, entry: utf8('entry 9') }).entry).toEqual(utf8('entry 9'));
    expect(verifyProofBundle(bare, { ...opts, leafHash: H.leaf(utf8('entry 9')) }).index).toBe(9);
    fail(bare, { ...opts, entry: utf8('entry 8') }, /does not lead to the root/);
    fail(bundle, { ...opts, leafHash: H.leaf(utf8('entry 8')) }, /entry does not have the given leaf hash/);
  });

  it('checks witness keys: cosignature/v1 only, each once, a quorum in range', () => {
    expect(() => quorumPolicy([logV])).toThrow(/not a cosignature\/v1/);
    expect(() => quorumPolicy([witnessV[0]!, witnessV[0]!])).toThrow(/given twice/);
    expect(() => quorumPolicy(witnessV, 4)).toThrow(/quorum must be an integer from 0 to .*3/);
    expect(quorumPolicy(witnessV).description).toBe('3 of 3 witnesses');
  });
});
