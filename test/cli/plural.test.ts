import { describe, expect, it } from 'vitest';
import { count } from '../../src/text/plural.js';

describe('count', () => {
  it('puts the noun in the number of the count', () => {
    expect([count(0, 'producer'), count(1, 'producer'), count(2, 'producer')]).toEqual(['0 producers', '1 producer', '2 producers']);
    expect([count(1, 'entry', 'entries'), count(1000, 'entry', 'entries'), count(1n, 'entry bundle'), count(3n, 'entry bundle')]).toEqual(['1 entry', '1000 entries', '1 entry bundle', '3 entry bundles']);
  });
});
