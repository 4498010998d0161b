// The full audit against real Candor logs on 127.0.0.1: every entry bundle and hash tile is
// downloaded and every hash recomputed, through levels 0, 1 and 2; it resumes where it stopped,
// also after the log grew; tampered or missing tiles and bundles raise alarms.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '@candor/core/bytes';
import { parseVerifierKey } from '@candor/core/note';
import { encodeBundle, decodeBundle } from '@candor/core/tile';
import { fullAudit, type AuditOptions } from '../../clients/verify/audit.js';
import { checkOnce, type MonitorOptions } from '../../clients/verify/monitor.js';
import { AuditorStore } from '../../clients/verify/store.js';
import { TileClient } from '../../clients/tiles/client.js';
import { addLogReader } from '../helpers/auditors.js';
import { startTestLog } from '../helpers/log.js';
import { fill, scratch, type TestLog } from '../witnessing/helpers.js';
import { candor, startLyingLog, type LyingLog } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Monitor + audit options for a fresh data dir, as `candor audit` does it. */
async function auditor(url: string, vkey: string, token?: string): Promise<{ dir: string; m: MonitorOptions; audit(extra?: Partial<AuditOptions>): ReturnType<typeof fullAudit> }> {
  const dir = scratch(cleanups, 'candor-audit-');
  const store = await AuditorStore.open(dir);
  cleanups.push(() => store.close());
  const m: MonitorOptions = { client: new TileClient(url, token ? { token } : {}), store, logVerifiers: [parseVerifierKey(vkey)], evidenceDir: join(dir, 'evidence') };
  return {
    dir,
    m,
    async audit(extra = {}) {
      const r = await checkOnce(m);
      if (r.kind === 'alarm' || r.kind === 'unwitnessed') throw new Error(`monitor: ${r.kind}`);
      return fullAudit({ client: m.client, store, checkpoint: r.checkpoint, note: r.note, evidenceDir: m.evidenceDir!, ...extra });
    },
  };
}

describe('full audit', () => {
  let log: TestLog;
  let vkey: string;
  let view: LyingLog;
  let token: string;

  beforeAll(async () => {
    const dir = scratch(cleanups, 'candor-audited-');
    // Entries are not public: the audits present a reader's token (read-log).
    token = addLogReader(dir);
    log = await startTestLog({ data: dir, origin: 'audit.candor.test/log' });
    cleanups.push(() => log.cleanup());
    vkey = log.keys.vkeys[0]!;
    view = await startLyingLog(log.url);
    cleanups.push(() => view.close());
  });

  it('recomputes a tree with full and partial tiles at levels 0, 1 and 2 (70000 entries)', async () => {
    await fill(log, 'audited entry', 0, 70_000);
    const a = await auditor(view.url, vkey, token);
    view.requests.length = 0;
    const r = await a.audit();
    expect(r).toEqual({ kind: 'complete', size: 70_000, from: 0, bundles: 274, tiles: 274 + 2 + 1 });
    // Every entry bundle and every hash tile of the tree was fetched, each once.
    const fetched = new Set(view.requests);
    expect(fetched.size).toBe(view.requests.length);
    for (const p of ['tile/entries/000', 'tile/entries/273.p/112', 'tile/0/273.p/112', 'tile/1/000', 'tile/1/001.p/17', 'tile/2/000.p/1']) {
      expect(fetched.has(p), p).toBe(true);
    }
    expect((await a.m.store.audit())?.audited).toBe(70_000);
  });

  it('resumes where it stopped, and after the log grew, from the last full bundle', async () => {
    const a = await auditor(view.url, vkey, token);
    const stop = new AbortController();
    const first = await a.audit({ concurrency: 1, signal: stop.signal, onProgress: (done) => done >= 20_000 && stop.abort() });
    expect(first).toEqual({ kind: 'interrupted', from: 0, at: 20_224 });
    view.requests.length = 0;
    const second = await a.audit();
    expect(second).toMatchObject({ kind: 'complete', from: 20_224, size: 70_000, bundles: 274 - 79 });
    expect(view.requests).not.toContain('tile/entries/078');
    expect(view.requests).toContain('tile/entries/079');

    await fill(log, 'audited entry', 70_000, 70_500);
    view.requests.length = 0;
    const third = await a.audit();
    // 70000 = 273 full bundles + 112: the partial bundle is audited again, with the new entries.
    expect(third).toMatchObject({ kind: 'complete', from: 273 * 256, size: 70_500, bundles: 3 });
  });

  it('raises an alarm on a changed entry, a changed upper-level tile, or a missing bundle, and writes evidence', async () => {
    const size = log.sequencer.size;
    const cases: Array<[string, (path: string, body: Uint8Array) => Uint8Array | null, RegExp, string]> = [
      [
        'an entry changed in its bundle',
        (p, b) => {
          if (p !== 'tile/entries/100') return b;
          const entries = decodeBundle(b);
          entries[7] = utf8('rewritten history');
          return encodeBundle(entries);
        },
        /tile\/0\/100 holds .* at offset 7, but entry 25607 of tile\/entries\/100 hashes to/,
        'inconsistent',
      ],
      [
        'a level-1 hash changed',
        (p, b) => {
          if (p !== 'tile/1/000') return b;
          const t = b.slice();
          t[32 * 5]! ^= 1;
          return t;
        },
        /tile\/1\/000 holds .* at offset 5, but the tiles below give/,
        'inconsistent',
      ],
      ['a bundle the log no longer serves', (p, b) => (p.startsWith('tile/entries/200') ? null : b), /truncation: the log signed size 70500 but does not serve .*tile\/entries\/200/, 'truncation'],
    ];
    for (const [what, tamper, message, kind] of cases) {
      const a = await auditor(view.url, vkey, token);
      view.tamper = tamper;
      try {
        const r = await a.audit();
        expect(r.kind, what).toBe('alarm');
        if (r.kind !== 'alarm') continue;
        expect(r.alarm.kind, what).toBe(kind);
        expect(r.alarm.message, what).toMatch(message);
        expect(readFileSync(r.alarm.evidenceFile!, 'utf8')).toContain(r.alarm.verified);
      } finally {
        view.tamper = undefined;
      }
    }
    expect(size).toBe(70_500);
  });

  it('through the CLI: exit 0 with a summary, exit 3 with an ALARM line', async () => {
    const dir = scratch(cleanups, 'candor-audit-cli-');
    const args = ['audit', '--url', view.url, '--log-key', vkey, '--data', dir, '--token', token];
    const ok = await candor(args);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/audit OK: all 70500 entries of audit.candor.test\/log downloaded and every hash recomputed up to root /);
    view.tamper = (p, b) => (p === 'tile/0/010' ? b.map((x, i) => (i === 0 ? x ^ 1 : x)) : b);
    try {
      const bad = await candor([...args, '--restart']);
      expect(bad.code).toBe(3);
      expect(bad.stderr).toMatch(/^ALARM inconsistent: .*tile\/0\/010 holds/);
    } finally {
      view.tamper = undefined;
    }
  });
});
