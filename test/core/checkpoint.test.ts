import { describe, expect, it } from 'vitest';
import { toBase64 } from '@candor/core/bytes';
import { formatCheckpoint, openCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { parseVerifierKey } from '@candor/core/note';
import { loadVectors } from '../helpers/vectors.js';

const v = loadVectors('checkpoints.json');

describe('checkpoint vectors (c2sp.org/tlog-checkpoint)', () => {
  it.each(v.cases as any[])('$id', (c) => {
    const verifiers = c.vkeys.map((k: string) => parseVerifierKey(k));
    const body = c.note.slice(0, c.note.lastIndexOf('\n\n') + 1);
    const parsed = c.expect === 'OK' ? openCheckpoint(c.note, verifiers, c.origin).checkpoint : parseCheckpoint(body);
    expect(parsed.origin).toBe(c.origin);
    expect(parsed.size).toBe(c.size);
    expect(toBase64(parsed.root)).toBe(c.root_base64);
    expect(formatCheckpoint(parsed)).toBe(body);
  });

  it.each(v.parse_cases as any[])('parse $expect: $why', (c) => {
    if (c.expect === 'OK') expect(formatCheckpoint(parseCheckpoint(c.body))).toBe(c.body);
    else expect(() => parseCheckpoint(c.body)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('rejects a checkpoint for another origin', () => {
    const c = (v.cases as any[]).find((x) => x.id === 'sumdb');
    expect(() => openCheckpoint(c.note, c.vkeys.map((k: string) => parseVerifierKey(k)), 'other.example')).toThrow(/origin/);
  });
});
