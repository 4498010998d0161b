// Every parser of untrusted input, fuzzed with random and edited-valid inputs (bench/fuzz.ts):
// it returns or throws a CandorError, never anything else. Counts are bounded for CI; `npm run
// bench -- fuzz` runs larger ones.
import { describe, it } from 'vitest';
import { PARSERS, fuzzParser } from '../../bench/fuzz.js';

const RUNS = 2000;

describe('parser fuzzing', () => {
  for (const p of PARSERS) {
    it(`${p.name}: ${RUNS} inputs, only CandorErrors`, { timeout: 30_000 }, () => fuzzParser(p, RUNS));
  }
});
