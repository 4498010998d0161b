import { describe, expect, it } from 'vitest';
import { fromBase64, toHex, utf8 } from '@candor/core/bytes';
import {
  SIG_COSIGNATURE_V1,
  cosignatureMessage,
  cosignatureTime,
  generateSignerKey,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '@candor/core/note';
import { loadVectors } from '../helpers/vectors.js';

const notes = loadVectors('signed-notes.json');
const cosigs = loadVectors('cosignatures.json');

const noteOf = (c: any) => (c.note_base64 ? fromBase64(c.note_base64) : c.note);

describe('signed-note vectors', () => {
  it.each(notes.cases as any[])('$id', (c) => {
    const verifiers = c.vkeys.map((v: string) => parseVerifierKey(v));
    if (c.expect === 'FAIL') {
      expect(() => openNote(noteOf(c), verifiers)).toThrow();
      return;
    }
    const opened = openNote(noteOf(c), verifiers);
    expect(opened.verified.map((s) => s.name)).toEqual(c.expect_verified);
    if (c.expect_unverified) expect(opened.unverified.map((s) => s.name)).toEqual(c.expect_unverified);
  });

  it.each(notes.sign_cases as any[])('signs $id byte for byte', (c) => {
    const { signer, vkey } = parseSignerKey(c.skey);
    const out = signNote(c.text, [signer]);
    if (c.want_note) expect(out).toBe(c.want_note);
    if (c.want_signature_line) expect(out.endsWith(c.want_signature_line)).toBe(true);
    expect(openNote(out, [parseVerifierKey(vkey)]).verified).toHaveLength(1);
  });

  it.each(notes.vkey_cases as any[])('verifier key $vkey', (c) => {
    if (c.valid) expect(() => parseVerifierKey(c.vkey)).not.toThrow();
    else expect(() => parseVerifierKey(c.vkey)).toThrow();
  });
});

describe('cosignature/v1 vectors', () => {
  it.each(cosigs.message_cases as any[])('message at time $timestamp', (c) => {
    // JSON numbers lose precision above 2^53 (one case is 72623859790382856): take the exact
    // decimal from the message and check it against the JSON value to that precision.
    const t = BigInt(/time (\d+)/.exec(c.message)![1]!);
    expect(Number(t)).toBe(c.timestamp);
    expect(new TextDecoder().decode(cosignatureMessage(t, utf8(c.checkpoint_text)))).toBe(c.message);
  });

  it.each(cosigs.line_decode_cases as any[])('decodes key ID $key_id_hex', (c) => {
    const sig = c.line ? parseNote(`x\n\n${c.line}\n`).signatures[0]! : undefined;
    const raw = sig ? sig.sig : fromBase64(c.signature_base64).subarray(4);
    if (sig) expect(sig.keyId.toString(16).padStart(8, '0')).toBe(c.key_id_hex);
    else expect(toHex(fromBase64(c.signature_base64).subarray(0, 4))).toBe(c.key_id_hex);
    expect(cosignatureTime(raw)).toBe(BigInt(c.timestamp));
    expect(raw.length - 8).toBe(c.signature_len);
  });

  it.each(cosigs.signed_cases as any[])('$id', (c) => {
    const verifiers = c.vkeys.map((v: string) => parseVerifierKey(v));
    if (c.expect === 'FAIL') expect(() => openNote(c.note, verifiers)).toThrow();
    else expect(openNote(c.note, verifiers).verified.map((s) => s.name)).toEqual(c.expect_verified);
  });

  it('signs cosignatures that the published witness key verifies', () => {
    const seed = cosigs.keys.witness_skey_seed_source.split('+').pop();
    const skey = `PRIVATE+KEY+witness.example.com/w1+${'00000000'}+${seed}`;
    // The key ID in a signer string is checked against the type 0x01 key; compute it properly.
    const { vkey: v01 } = parseSignerKey(generateSignerKey('witness.example.com/w1', fromBase64(seed).subarray(1)).skey);
    const good = `PRIVATE+KEY+witness.example.com/w1+${v01.split('+')[1]}+${seed}`;
    expect(() => parseSignerKey(skey)).toThrow(/key ID/);
    const w = parseSignerKey(good, { type: SIG_COSIGNATURE_V1, now: () => 1679315147 });
    expect(w.vkey).toBe(cosigs.keys.witness_vkey_0x04);
    const text = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
    const note = signNote(text, [w.signer]);
    const opened = openNote(note, [parseVerifierKey(w.vkey)]);
    expect(cosignatureTime(opened.verified[0]!.sig)).toBe(1679315147n);
  });
});

describe('keys', () => {
  it('generates keys in x/mod format that sign and verify', () => {
    const { skey, vkey } = generateSignerKey('log.example/test');
    expect(skey).toMatch(/^PRIVATE\+KEY\+log\.example\/test\+[0-9a-f]{8}\+/);
    const { signer } = parseSignerKey(skey);
    const note = signNote('hello\n', [signer]);
    expect(openNote(note, [parseVerifierKey(vkey)]).text).toBe('hello\n');
    expect(() => generateSignerKey('bad name')).toThrow();
    expect(() => generateSignerKey('bad+name')).toThrow();
  });

  it('keeps existing signatures when a second key signs (rotation)', () => {
    const a = generateSignerKey('log.example/test');
    const b = generateSignerKey('log.example/test');
    const first = signNote('hello\n', [parseSignerKey(a.skey).signer]);
    const both = signNote('hello\n', [parseSignerKey(b.skey).signer], parseNote(first).signatures);
    expect(openNote(both, [parseVerifierKey(a.vkey)]).verified).toHaveLength(1);
    expect(openNote(both, [parseVerifierKey(b.vkey)]).verified).toHaveLength(1);
    expect(openNote(both, [parseVerifierKey(a.vkey), parseVerifierKey(b.vkey)]).verified).toHaveLength(2);
  });
});
