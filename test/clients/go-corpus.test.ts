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
});
