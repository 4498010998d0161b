// The shared corpus of clients/go: the TypeScript gateway SDK, run again on the corpus inputs,
// still writes exactly the events, leaves and leaf hashes in clients/go/testdata/corpus.json
// (which clients/go/corpus_test.go checks the Go client against).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCorpus } from '../../clients/go/testdata/corpus.js';

describe('the Go client corpus', () => {
  it('is what the TypeScript SDK writes for its inputs', async () => {
    const stored = JSON.parse(readFileSync(new URL('../../clients/go/testdata/corpus.json', import.meta.url), 'utf8'));
    const fresh = JSON.parse(JSON.stringify(await buildCorpus()));
    expect(fresh.cases.length).toBeGreaterThanOrEqual(20);
    expect(fresh).toEqual(stored);
  });

  it('holds statements with each kind of whitespace the fingerprint must treat as JavaScript does', () => {
    const stored = JSON.parse(readFileSync(new URL('../../clients/go/testdata/corpus.json', import.meta.url), 'utf8'));
    const statements: string[] = stored.fingerprints.map((f: { statement: string }) => f.statement);
    // NBSP, LS, PS, ideographic space, BOM, tab, LF, CR, VT, FF, and NEL (not whitespace in JS).
    for (const c of ['\u00A0', '\u2028', '\u2029', '\u3000', '\uFEFF', '\t', '\n', '\r', '\v', '\f', '\u0085']) {
      expect(statements.some((s) => s.includes(c)), `a statement with U+${c.codePointAt(0)!.toString(16)}`).toBe(true);
    }
    // After normalisation the only whitespace left is single spaces, none at either end.
    for (const f of stored.fingerprints as { normalized: string }[]) {
      expect(f.normalized).not.toMatch(/[^\S ]| {2}|^ | $/);
    }
    expect(stored.whitespace).toHaveLength(25);
  });
});
