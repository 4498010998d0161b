// add-checkpoint status by status (c2sp.org/tlog-witness; ../shared/specs/standards.md §4.2), with
// checkpoints of real trees signed by keys made here, over HTTP on 127.0.0.1 and a store on disk.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '@candor/core/bytes';
import { formatCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { verifyConsistency } from '@candor/core/merkle';
import { cosignatureTime, formatVerifierKey, generateSignerKey, openNote, parseNote, parseSignerKey, parseVerifierKey, signNote } from '@candor/core/note';
import { TestLog, requestBody, startWitness, tempDir, type RunningWitness } from './helpers.js';

const ORIGIN = 'example.com/log';
const EMPTY = portableHasher.empty;
const originHash = (o: string) => createHash('sha256').update(o).digest('hex');

let running: RunningWitness[] = [];
afterEach(async () => {
  await Promise.all(running.map((w) => w.close()));
  running = [];
});

async function witnessFor(logs: TestLog[], opts: Parameters<typeof startWitness>[0] = {}): Promise<RunningWitness> {
  const w = await startWitness({ logs: logs.map((l) => ({ origin: l.origin, vkeys: [l.vkey] })), ...opts });
  running.push(w);
  return w;
}

describe('400: the request is not parsable', () => {
  it.each([
    ['an empty body', () => ''],
    ['no blank line', (l: TestLog) => `old 0\n${l.checkpoint()}`.replace('\n\n', '\n')],
    ['a leading zero in old', (l: TestLog) => l.body(0).replace('old 0', 'old 00')],
    ['a signed old', (l: TestLog) => l.body(0).replace('old 0', 'old +0')],
    ['no old line', (l: TestLog) => l.body(0).replace('old 0\n', 'olds 0\n')],
    ['a proof hash in URL-safe base64', (l: TestLog) => `old 4\n${'-_'.repeat(21)}-=\n\n${l.checkpoint()}`],
    ['a proof hash with non-canonical padding bits', (l: TestLog) => `old 4\n${'A'.repeat(42)}B=\n\n${l.checkpoint()}`],
    ['a 31-byte proof hash', (l: TestLog) => requestBody(4, [new Uint8Array(31)], l.checkpoint())],
    ['64 proof hashes', (l: TestLog) => requestBody(4, Array.from({ length: 64 }, () => new Uint8Array(32)), l.checkpoint())],
    ['a checkpoint size with a leading zero', (l: TestLog) => l.body(0).replace('\n8\n', '\n08\n')],
    ['a malformed signature line', (l: TestLog) => l.body(0).replace('— ', '- ')],
    ['CRLF line endings', (l: TestLog) => l.body(0).replace(/\n/g, '\r\n')],
  ])('%s', async (_name, make) => {
    const log = new TestLog(ORIGIN).append(8);
    const w = await witnessFor([log]);
    const res = await w.post(make(log));
    expect(res.status).toBe(400);
    expect(res.type).toMatch(/^text\/plain/);
  });

  it('a body that is not UTF-8', async () => {
    const log = new TestLog(ORIGIN).append(8);
    const w = await witnessFor([log]);
    const body = new TextEncoder().encode(log.body(0));
    const bad = new Uint8Array([...body.subarray(0, 8), 0xff, ...body.subarray(8)]);
    expect((await w.post(bad)).status).toBe(400);
  });

  it('accepts 63 proof hashes as syntax (the proof itself then fails: 422)', async () => {
    const log = new TestLog(ORIGIN).append(8);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0, 4))).status).toBe(200);
    const res = await w.post(requestBody(4, Array.from({ length: 63 }, () => new Uint8Array(32)), log.checkpoint(8)));
    expect(res.status).toBe(422);
  });

  it('old larger than the checkpoint size, once the signature is checked', async () => {
    const log = new TestLog(ORIGIN).append(8);
    const w = await witnessFor([log]);
    expect((await w.post(requestBody(9, [], log.checkpoint(8)))).status).toBe(400);
  });
});

describe('404: unknown origin', () => {
  it('a well-signed checkpoint of a log the witness does not witness', async () => {
    const known = new TestLog(ORIGIN).append(3);
    const other = new TestLog('example.com/other').append(3);
    const w = await witnessFor([known]);
    const res = await w.post(other.body(0));
    expect(res.status).toBe(404);
  });

  it('comes before the signature check', async () => {
    const known = new TestLog(ORIGIN).append(3);
    const stranger = new TestLog('example.com/other', generateSignerKey(ORIGIN)).append(3);
    const w = await witnessFor([known]);
    expect((await w.post(stranger.body(0))).status).toBe(404);
  });
});

describe('403: no valid signature from a trusted key', () => {
  it('signed only by a key the witness does not trust for the origin', async () => {
    const log = new TestLog(ORIGIN).append(5);
    const impostor = new TestLog(ORIGIN).append(5);
    const w = await witnessFor([log]);
    expect((await w.post(impostor.body(0))).status).toBe(403);
  });

  it('a trusted name and key ID whose signature fails, even next to a valid one', async () => {
    const a = generateSignerKey(ORIGIN);
    const b = generateSignerKey(ORIGIN);
    const log = new TestLog(ORIGIN, a).append(5);
    const w = await startWitness({ logs: [{ origin: ORIGIN, vkeys: [a.vkey, b.vkey] }] });
    running.push(w);
    const text = formatCheckpoint({ origin: ORIGIN, size: 5, root: log.root(), extensions: [] });
    const signerB = parseSignerKey(b.skey).signer;
    // B's line signs other text, so it carries B's name and ID but does not verify.
    const badB = parseNote(signNote(text.replace('\n5\n', '\n6\n'), [signerB])).signatures[0]!;
    const note = signNote(text, [log.signer], [badB]);
    expect((await w.post(requestBody(0, [], note))).status).toBe(403);
    expect((await w.post(requestBody(0, [], signNote(text, [log.signer, signerB])))).status).toBe(200);
  });

  it('a tampered checkpoint', async () => {
    const log = new TestLog(ORIGIN).append(5);
    const w = await witnessFor([log]);
    const forged = log.checkpoint().replace(toBase64(log.root()), toBase64(new Uint8Array(32).fill(7)));
    expect((await w.post(requestBody(0, [], forged))).status).toBe(403);
  });

  it('comes before the old > size check', async () => {
    const log = new TestLog(ORIGIN).append(5);
    const impostor = new TestLog(ORIGIN).append(5);
    const w = await witnessFor([log]);
    expect((await w.post(requestBody(9, [], impostor.checkpoint()))).status).toBe(403);
  });

  it('an altered last base64 character is a failing signature (403), not a malformed note', async () => {
    // x/mod ignores a base64 string's unused trailing bits, so such a line parses (then fails).
    const sigs = parseNote('t\n\n— k AAAAAAF=\n— k AAAAAAAAAR==\n').signatures;
    expect(sigs.map((s) => Array.from(s.sig))).toEqual([[1], [0, 0, 1]]);
    const log = new TestLog(ORIGIN).append(1);
    const w = await witnessFor([log]);
    const note = log.checkpoint();
    // The last data character before "=\n" carries 4 used bits and 2 unused ones: flip a used
    // bit, so the signature really changes.
    const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const i = note.length - 3;
    const altered = note.slice(0, i) + B64[B64.indexOf(note[i]!) ^ 0b000100]! + note.slice(i + 1);
    expect((await w.post(requestBody(0, [], altered))).status).toBe(403);
  });
});

describe('409: old size is not the cosigned size', () => {
  it('answers the cosigned size as text/x.tlog.size', async () => {
    const log = new TestLog(ORIGIN).append(10);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(3, 7))).status).toBe(409);
    expect((await w.post(log.body(0, 7))).status).toBe(200);
    log.append(5);
    for (const old of [0, 3, 10]) {
      const res = await w.post(log.body(old, 15));
      expect(res).toEqual({ status: 409, body: '7\n', type: 'text/x.tlog.size' });
    }
  });

  it('comes before any consistency check', async () => {
    const log = new TestLog(ORIGIN).append(10);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0, 7))).status).toBe(200);
    const res = await w.post(requestBody(3, [new Uint8Array(32)], log.checkpoint(10)));
    expect(res.status).toBe(409);
    expect(res.body).toBe('7\n');
  });

  it('a client that retries with the returned size gets its cosignature', async () => {
    const log = new TestLog(ORIGIN).append(4);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0))).status).toBe(200);
    log.append(9);
    const conflict = await w.post(log.body(0));
    const old = Number(conflict.body.trim());
    expect((await w.post(log.body(old))).status).toBe(200);
  });
});

describe('422: not consistent with what the witness cosigned', () => {
  it('size 0 with a root other than SHA-256("")', async () => {
    const log = new TestLog(ORIGIN);
    const w = await witnessFor([log]);
    expect((await w.post(requestBody(0, [], log.checkpoint(0, new Uint8Array(32))))).status).toBe(422);
    expect((await w.post(requestBody(0, [], log.checkpoint(0, EMPTY)))).status).toBe(200);
  });

  it('old 0 with a non-empty proof', async () => {
    const log = new TestLog(ORIGIN).append(6);
    const w = await witnessFor([log]);
    expect((await w.post(requestBody(0, [log.root(4)], log.checkpoint()))).status).toBe(422);
  });

  it('the same size with a different root', async () => {
    const log = new TestLog(ORIGIN).append(6);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0))).status).toBe(200);
    expect((await w.post(requestBody(6, [], log.checkpoint(6, new Uint8Array(32).fill(1))))).status).toBe(422);
    // The same checkpoint again is consistent with itself and is cosigned anew.
    expect((await w.post(log.body(6))).status).toBe(200);
  });

  it.each([
    ['a corrupted hash', (p: Uint8Array[]) => p.map((h, i) => (i === 1 ? h.map((b, j) => (j === 0 ? b ^ 1 : b)) : h))],
    ['a missing hash', (p: Uint8Array[]) => p.slice(0, -1)],
    ['an extra hash', (p: Uint8Array[]) => [...p, new Uint8Array(32)]],
    ['no hashes', () => []],
    ['reordered hashes', (p: Uint8Array[]) => [...p].reverse()],
  ])('a proof with %s', async (_name, mangle) => {
    const log = new TestLog(ORIGIN).append(37);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0, 13))).status).toBe(200);
    const res = await w.post(requestBody(13, mangle(log.proof(13, 37)), log.checkpoint(37)));
    expect(res.status).toBe(422);
    expect((await w.post(log.body(13, 37))).status).toBe(200);
  });

  it('a proof for other sizes of the same tree', async () => {
    const log = new TestLog(ORIGIN).append(40);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0, 13))).status).toBe(200);
    expect((await w.post(requestBody(13, log.proof(12, 40), log.checkpoint(40)))).status).toBe(422);
    expect((await w.post(requestBody(13, log.proof(13, 39), log.checkpoint(40)))).status).toBe(422);
  });
});

describe('200: cosignatures', () => {
  it('returns one cosignature/v1 line per witness key, each verifying with its 0x04 vkey', async () => {
    const log = new TestLog(ORIGIN).append(21);
    const now = 1_760_000_000;
    const w = await witnessFor([log], { keys: 2, now: () => now });
    expect(w.vkeys).toHaveLength(2);
    const res = await w.post(log.body(0));
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain/);
    const lines = res.body.split('\n').slice(0, -1);
    expect(lines).toHaveLength(2);
    const text = parseNote(log.checkpoint()).text;
    const verifiers = w.vkeys.map((k) => parseVerifierKey(k));
    expect(verifiers.every((v) => v.type === 0x04)).toBe(true);
    for (const v of verifiers) {
      const opened = openNote(`${text}\n${res.body}`, [v]);
      expect(opened.verified).toHaveLength(1);
      expect(cosignatureTime(opened.verified[0]!.sig)).toBe(BigInt(now));
    }
    // The same public key as a type 0x01 vkey has another key ID, so it matches no line.
    const pub = fromBase64(w.vkeys[0]!.split('+').slice(2).join('+')).subarray(1);
    const asEd25519 = parseVerifierKey(formatVerifierKey('witness.example.com/w1', 0x01, pub));
    expect(() => openNote(`${text}\n${res.body}`, [asEd25519])).toThrow(/no signature from a known key/);
  });

  it('does not echo or keep signatures by unknown keys', async () => {
    const log = new TestLog(ORIGIN).append(3);
    const w = await witnessFor([log]);
    const stranger = parseSignerKey(generateSignerKey('stranger.example').skey).signer;
    const note = signNote(parseNote(log.checkpoint()).text, [log.signer, stranger]);
    const res = await w.post(requestBody(0, [], note));
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('stranger.example');
    const stored = await w.get(`/${originHash(ORIGIN)}/checkpoint`);
    expect(stored.body).not.toContain('stranger.example');
  });

  it('is atomic: of many concurrent pushes from the same old size, exactly one is cosigned', async () => {
    const log = new TestLog(ORIGIN).append(64);
    const w = await witnessFor([log]);
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => w.post(log.body(0, 40 + i))));
    const ok = results.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    const won = parseCheckpoint(parseNote((await w.get(`/${originHash(ORIGIN)}/checkpoint`)).body).text).size;
    for (const r of results.filter((x) => x.status !== 200)) expect(r).toMatchObject({ status: 409, body: `${won}\n` });
  });
});

describe('split view', () => {
  it('cosigns the first tree and refuses the second, logging the evidence', async () => {
    const key = generateSignerKey(ORIGIN);
    const honest = new TestLog(ORIGIN, key).append(10);
    const fork = new TestLog(ORIGIN, key).append(10);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const w = await witnessFor([honest], { logger });

    expect((await w.post(honest.body(0))).status).toBe(200);
    expect((await w.post(requestBody(10, [], fork.checkpoint(10)))).status).toBe(422);
    fork.append(6);
    // The fork's own proof from 10 starts at the fork's root, not the cosigned one.
    expect((await w.post(requestBody(10, fork.proof(10, 16), fork.checkpoint(16)))).status).toBe(422);
    expect(await w.post(fork.body(0))).toMatchObject({ status: 409, body: '10\n' });

    const evidence = lines.filter((l) => String(l.msg).includes('split view'));
    expect(evidence).toHaveLength(2);
    expect(evidence[1]).toMatchObject({ level: 40, origin: ORIGIN, oldSize: 10, size: 16, oldRoot: toBase64(honest.root(10)) });
    expect(evidence[1]!.checkpoint).toBe(fork.checkpoint(16));

    honest.append(6);
    expect((await w.post(honest.body(10))).status).toBe(200);
    const latest = await w.get(`/${originHash(ORIGIN)}/checkpoint`);
    const cp = parseCheckpoint(openNote(latest.body, [parseVerifierKey(key.vkey)]).text);
    expect(cp.size).toBe(16);
    expect(toBase64(cp.root)).toBe(toBase64(honest.root()));
    // Everything the witness cosigned is one tree: the two roots it vouched for are consistent.
    verifyConsistency(portableHasher, 10, 16, honest.root(10), cp.root, honest.proof(10, 16));
  });
});

describe('HTTP surface', () => {
  it('GET /<origin hash>/checkpoint: 404 until cosigned, then the checkpoint with log and witness signatures', async () => {
    const log = new TestLog(ORIGIN).append(9);
    const w = await witnessFor([log], { keys: 2 });
    expect((await w.get(`/${originHash(ORIGIN)}/checkpoint`)).status).toBe(404);
    expect((await w.get(`/${originHash('nope')}/checkpoint`)).status).toBe(404);
    expect((await w.get(`/${originHash(ORIGIN).toUpperCase()}/checkpoint`)).status).toBe(400);
    const res = await w.post(log.body(0));
    const got = await w.get(`/${originHash(ORIGIN)}/checkpoint`);
    expect(got.status).toBe(200);
    expect(got.body).toBe(`${log.checkpoint()}${res.body}`);
    const opened = openNote(got.body, [log.vkey, ...w.vkeys].map((k) => parseVerifierKey(k)));
    expect(opened.verified).toHaveLength(3);
  });

  it('takes the body whatever its content type, and limits its size (413)', async () => {
    const log = new TestLog(ORIGIN).append(2);
    const w = await witnessFor([log]);
    expect((await w.post(log.body(0), { 'content-type': 'application/json' })).status).toBe(200);
    const huge = await w.post(log.body(2) + '— x '.padEnd(70 * 1024, 'A') + '\n');
    expect(huge.status).toBe(413);
    expect(huge.body).not.toMatch(/at .*\.js/);
    expect((await w.post(log.body(2), { 'content-type': 'application/octet-stream' })).status).toBe(200);
  });

  it('keeps the cosigned state across a restart on the same store', async () => {
    const log = new TestLog(ORIGIN).append(12);
    const dir = tempDir();
    const first = await startWitness({ logs: [{ origin: ORIGIN, vkeys: [log.vkey] }], dir });
    expect((await first.post(log.body(0))).status).toBe(200);
    await first.close();
    const again = await startWitness({ dir });
    try {
      expect(await again.post(log.body(0))).toMatchObject({ status: 409, body: '12\n' });
      expect((await again.store.getState(ORIGIN)).root).toEqual(log.root());
    } finally {
      await again.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
