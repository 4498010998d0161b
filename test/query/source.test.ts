// Reads answered from the search index (timelines, export) return exactly what a scan of the
// log returns, for filters the index narrows and for those it cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventFilter } from '../../src/query/filter.js';
import { scanEvents } from '../../src/query/scan.js';
import { eventSource, indexTerms } from '../../src/query/source.js';
import { ingest, startSearchLog, variedEvent, type SearchLog } from './helpers.js';

let log: SearchLog;

beforeAll(async () => {
  log = await startSearchLog();
  await ingest(log, Array.from({ length: 400 }, (_, i) => variedEvent(i)), 53);
}, 60_000);
afterAll(() => log?.cleanup());

const indexes = async (src: AsyncIterable<{ index: number }>) => {
  const out: number[] = [];
  for await (const e of src) out.push(e.index);
  return out;
};

describe('eventSource', () => {
  const filters: EventFilter[] = [
    { review: 'rev-5' },
    { session: 'ses-17' },
    { actor: 'usr_c' },
    { tenant: ['org-2'] },
    { type: ['producer.heartbeat'] },
    { tenant: ['org-1'], type: ['session.*'] },
    { review: 'rev-5', start: 100, end: 300 },
    { tenant: ['org-1', 'org-3'], actor: 'usr_a' },
    { type: ['session.*'] },
    {},
  ];
  it.each(filters)('returns what a scan returns for %j', async (f) => {
    const want = await indexes(scanEvents(log.service, f));
    const got = await indexes(eventSource(log.service, log.search, f));
    expect(want.length, 'the filter selects some events').toBeGreaterThan(0);
    expect(got).toEqual(want);
    // Only filters that name an indexed value use the index at all.
    expect(indexTerms(f) === undefined).toBe(f.review === undefined && f.session === undefined && f.actor === undefined && f.tenant?.length !== 1 && (f.type?.length !== 1 || f.type[0]!.endsWith('*')));
  });

  it('reports progress to the end of the range', async () => {
    const src = eventSource(log.service, log.search, { review: 'rev-5' });
    await indexes(src);
    expect(src.progress.scanned).toBe(src.end - src.start);
  });
});
