// Live tail: Server-Sent Events deliver new matching events in log order, resume after
// Last-Event-ID, and a consumer that stops reading is dropped with a clear error instead of
// holding the log back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CandorError } from '@candor/core/errors';
import { SearchService } from '../../src/query/search.js';
import { allEvents, ingest, naive, startSearchLog, testAuthorize, variedEvent, type SearchLog } from './helpers.js';
import type { LevelStore } from '../../src/storage/level.js';

let log: SearchLog;
beforeAll(async () => {
  log = await startSearchLog();
  await ingest(log, Array.from({ length: 50 }, (_, i) => variedEvent(i)));
}, 30_000);
afterAll(() => log?.cleanup());

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Opens GET /v1/tail and collects events until `until` says stop (bounded by a timeout);
 * `opened` is called once the response has started (the tail has its start position).
 */
async function tail(params: Record<string, string>, headers: Record<string, string>, until: (got: SseEvent[]) => boolean, opened?: () => void): Promise<{ status: number; events: SseEvent[] }> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 20_000);
  const res = await fetch(`${log.url}/v1/tail?${new URLSearchParams(params)}`, { headers: { Authorization: 'Bearer tok-all', ...headers }, signal: ac.signal });
  opened?.();
  const events: SseEvent[] = [];
  if (res.status !== 200) {
    clearTimeout(timer);
    return { status: res.status, events: [{ data: await res.text() }] };
  }
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = res.body!.getReader();
  let buf = '';
  try {
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString('utf8');
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const ev: SseEvent = { data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) ev.id = line.slice(4);
          else if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) ev.data += line.slice(6);
        }
        if (ev.id !== undefined || ev.event !== undefined) events.push(ev);
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return { status: res.status, events };
}

describe('GET /v1/tail', () => {
  it('delivers new matching events in log order, then resumes after Last-Event-ID', async () => {
    const start = log.service.size;
    const fresh = Array.from({ length: 120 }, (_, i) => variedEvent(i + 1000));
    const want = () => naive(events.filter((e) => e.index >= start), { actor: 'usr_b' }, 'oldest');
    let events = await allEvents(log);
    // Written while the tail is open (not before: it only sees events from then on).
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const writing = (async () => {
      await open;
      await ingest(log, fresh, 10);
    })();
    const expected = fresh.filter((e) => e.actor?.id === 'usr_b').length;
    const got = await tail({ actor: 'usr_b' }, {}, (evs) => evs.length >= expected, opened);
    await writing;
    events = await allEvents(log);
    expect(got.events.map((e) => Number(e.id))).toEqual(want());
    const first = JSON.parse(got.events[0]!.data) as { index: number; event: { actor: { id: string } } };
    expect(first.event.actor.id).toBe('usr_b');

    // Resume after the third event: the rest is delivered from the log, nothing twice.
    const resumed = await tail({ actor: 'usr_b' }, { 'Last-Event-ID': got.events[2]!.id! }, (evs) => evs.length >= expected - 3);
    expect(resumed.events.map((e) => Number(e.id))).toEqual(want().slice(3));
    // The same with ?after= (for clients without Last-Event-ID).
    const after = await tail({ actor: 'usr_b', after: got.events[2]!.id! }, {}, (evs) => evs.length >= expected - 3);
    expect(after.events.map((e) => Number(e.id))).toEqual(want().slice(3));
  });

  it('restricts a reader to its tenants', async () => {
    const got = await tail({ after: '0' }, { Authorization: 'Bearer tok-org2' }, (evs) => evs.length >= 5);
    for (const e of got.events) expect((JSON.parse(e.data) as { event: { tenantId: string } }).event.tenantId).toBe('org-2');
  });

  it('refuses bad requests before streaming', async () => {
    expect((await tail({}, { Authorization: '' }, () => true)).status).toBe(401);
    expect((await tail({ tenant: 'org-1' }, { Authorization: 'Bearer tok-org2' }, () => true)).status).toBe(403);
    const bad = await tail({ sesion: 'x' }, {}, () => true);
    expect(bad.status).toBe(400);
    expect(bad.events[0]!.data).toMatch(/sesion is not a parameter/);
    const badId = await tail({}, { 'Last-Event-ID': 'abc' }, () => true);
    expect(badId.status).toBe(400);
    expect(badId.events[0]!.data).toMatch(/Last-Event-ID must be a decimal integer from 0 to 2\^53 - 1/);
  });

  it('drops a consumer that stops reading once it falls behind, without holding the log', async () => {
    // A service of its own with a small lag bound, over the same log.
    const search = new SearchService({ service: log.service, store: log.store, index: log.store as LevelStore, commits: log.sequencer, authorize: testAuthorize, tailMaxLag: 20 });
    let failed: CandorError | undefined;
    let sent = 0;
    const t = search.tail({ token: 'tok-all' }, { terms: {} }, undefined, {
      send: () => {
        sent++;
        return false; // the consumer's buffer is full, and stays full
      },
      drained: () => new Promise<void>(() => undefined),
      error: (err) => (failed = err),
    });
    const size = log.service.size;
    for (let k = 0; k < 5 && !failed; k++) await ingest(log, Array.from({ length: 10 }, (_, i) => variedEvent(i + 2000 + k * 10)), 10);
    t.close();
    expect(sent).toBe(1);
    expect(failed?.code).toBe('resource_exhausted');
    expect(failed?.message).toMatch(/fell more than 20 entries behind/);
    expect(log.service.size).toBeGreaterThan(size + 20);
  });
});
