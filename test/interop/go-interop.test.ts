/**
 * Interop: Candor's HTTP read API checked by an independent verifier, golang.org/x/mod's
 * sumdb/note and sumdb/tlog (test/interop/go/main.go), first against an in-memory fixture (which also
 * serves tampered answers), then against the real server as it grows through partial tiles, full
 * tiles and level-2 tiles.
 *
 * Needs Go and x/mod from Debian (apt-get install golang-go golang-golang-x-mod-dev); without them
 * the whole file is skipped. The build is offline and writes only to a temp dir.
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIG_COSIGNATURE_V1, generateSignerKey, parseSignerKey } from '@candor/core/note';
import { startLog, type RunningLog } from '../helpers/server.js';
import { startFixture, type Fixture, type Tamper } from './fixture-server.js';
import { buildInterop, exec, hasGo, type Result } from './go.js';

let work = '';
let bin = '';

function verify(url: string, vkey: string, extra: string[] = []): Promise<Result> {
  return exec(bin, ['-url', url, '-vkey', vkey, '-samples', '12', ...extra], { timeoutMs: 20_000 });
}

let saved = 0;
/** Writes a signed checkpoint to a temp file for -checkpoint / -old-checkpoint. */
function saveCheckpoint(note: string): string {
  const file = join(work, `checkpoint-${saved++}`);
  writeFileSync(file, note);
  return file;
}

function expectOk(r: Result, size: number): void {
  expect(r.stderr, r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^candor-interop OK: .* size=${size} `));
}

function expectFail(r: Result, pattern: RegExp): void {
  expect(r.code, `expected failure, got:\n${r.stdout}${r.stderr}`).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(pattern);
}

describe.skipIf(!hasGo)('golang.org/x/mod verifies Candor', () => {
  beforeAll(async () => {
    ({ work, bin } = await buildInterop('candor-go-interop-'));
  }, 60_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('the fixture (Candor core math served over HTTP)', () => {
    const fixtures: Fixture[] = [];
    const fixture = async (...a: Parameters<typeof startFixture>) => {
      const f = await startFixture(...a);
      fixtures.push(f);
      return f;
    };
    afterAll(async () => {
      await Promise.all(fixtures.map((f) => f.close()));
    });

    it.each([0, 1, 2, 255, 256, 257, 300, 65536, 70000])('size %i verifies', async (size) => {
      const f = await fixture({ size });
      expectOk(await verify(f.url, f.vkey), size);
    });

    it('cosignature/v1 witnesses verify', async () => {
      const f = await fixture({ size: 300, witnesses: 2 });
      const r = await verify(f.url, f.vkey, f.witnessVkeys.flatMap((k) => ['-witness-vkey', k]));
      expectOk(r, 300);
      expect(r.stdout).toContain('cosignatures=2');
    });

    it('a wrong log key fails', async () => {
      const f = await fixture({ size: 300 });
      const other = generateSignerKey('fixture.candor.test/log').vkey;
      expectFail(await verify(f.url, other), /FAIL checkpoint signature: .*no verifiable signatures/);
    });

    it('a witness that did not cosign fails', async () => {
      const f = await fixture({ size: 300, witnesses: 1 });
      const { skey } = generateSignerKey('witness0.candor.test');
      const stranger = parseSignerKey(skey, { type: SIG_COSIGNATURE_V1 }).vkey;
      expectFail(await verify(f.url, f.vkey, ['-witness-vkey', stranger]), /FAIL cosignature: no cosignature\/v1 by witness/);
    });

    it('an older checkpoint verifies, alone and as a prefix of the latest', async () => {
      const f = await fixture({ size: 300 });
      const old = saveCheckpoint(f.checkpoint());
      f.append(Array.from({ length: 700 }, (_, i) => new TextEncoder().encode(`later entry ${i}`)));
      expectOk(await verify(f.url, f.vkey, ['-checkpoint', old]), 300);
      const r = await verify(f.url, f.vkey, ['-old-checkpoint', old]);
      expectOk(r, 1000);
      expect(r.stdout).toContain('old-checkpoint=1');
    });

    it('an older checkpoint from a fork (same key, other entries) fails', async () => {
      const logSeed = randomBytes(32);
      const f = await fixture({ size: 500, logSeed });
      const fork = await fixture({ logSeed });
      fork.append(Array.from({ length: 300 }, (_, i) => new TextEncoder().encode(`forked entry ${i}`)));
      const old = saveCheckpoint(fork.checkpoint());
      expectFail(await verify(f.url, f.vkey, ['-old-checkpoint', old]), /FAIL old checkpoint size=300: signed root .* the log forked/);
    });

    const tampered: [Tamper, RegExp][] = [
      ['inclusion-proof', /FAIL inclusion index=\d+ size=300: tlog.CheckRecord rejects/],
      ['leaf-hash', /FAIL inclusion index=\d+ size=300: tlog.CheckRecord rejects/],
      ['consistency-proof', /FAIL consistency from=\d+ to=300: tlog.CheckTree rejects/],
      ['tile', /FAIL tree hash: .*downloaded inconsistent tile/],
      ['bundle', /FAIL bundle \/tile\/entries\/001\.p\/44: RecordHash\(entry 299\)/],
      ['entry', /FAIL inclusion index=\d+ size=300: RecordHash\(entry \d+\)/],
      ['checkpoint-signature', /FAIL checkpoint signature: .*invalid signature for key fixture.candor.test\/log/],
      ['cosignature', /FAIL checkpoint signature: .*invalid signature for key witness0.candor.test/],
      ['signed-wrong-root', /FAIL tree hash: .*downloaded inconsistent tile/],
    ];
    it.each(tampered)('a tampered %s fails', async (tamper, pattern) => {
      const f = await fixture({ size: 300, witnesses: 1, tamper });
      expectFail(await verify(f.url, f.vkey, ['-witness-vkey', f.witnessVkeys[0]!]), pattern);
    });
  });

  describe('the real server', () => {
    let log: RunningLog;
    // Keep-alive, bounded: tens of thousands of adds must not open a socket each.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    let added = 0;
    /** Checkpoints from /add answers, by size: what a submitter holds and may verify later. */
    const acks = new Map<number, string>();

    beforeAll(async () => {
      // The Go verifier reads /entries without credentials: a public log.
      log = await startLog({ args: ['--public-entries'] });
    }, 30_000);
    afterAll(async () => {
      agent.destroy();
      await log?.stop();
      if (log) rmSync(log.dir, { recursive: true, force: true });
    });

    function post(path: string, body: Uint8Array): Promise<{ status: number; body: string }> {
      const u = new URL(path, log.url);
      return new Promise((resolve, reject) => {
        const req = http.request(
          u,
          { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } },
          (res) => {
            let data = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (data += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    }

    /** Adds entries until the log holds `target`, `concurrency` requests in flight. */
    async function growTo(target: number, concurrency = 64): Promise<void> {
      const seen = new Set<number>();
      let next = added;
      const worker = async () => {
        while (next < target) {
          const i = next++;
          const r = await post('/add', new TextEncoder().encode(`candor interop entry ${i}${'.'.repeat(i % 13)}`));
          if (r.status !== 200) throw new Error(`POST /add entry ${i}: HTTP ${r.status}: ${r.body}`);
          const a = JSON.parse(r.body) as { index: number; leafHash: string; checkpoint: string };
          if (!Number.isSafeInteger(a.index) || seen.has(a.index)) throw new Error(`POST /add entry ${i}: bad index ${r.body}`);
          seen.add(a.index);
          acks.set(Number(a.checkpoint.split('\n')[1]), a.checkpoint);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, target - added) }, worker));
      for (let i = added; i < target; i++) expect(seen.has(i), `index ${i} assigned`).toBe(true);
      added = target;
      // /add answers once the entry is in a signed checkpoint, but allow /checkpoint a moment.
      const deadline = Date.now() + 5_000;
      for (;;) {
        const size = Number((await (await fetch(`${log.url}/checkpoint`)).text()).split('\n')[1]);
        if (size === target) return;
        if (size > target || Date.now() > deadline) throw new Error(`/checkpoint size ${size}, expected ${target}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it('verifies the empty log', async () => {
      expectOk(await verify(log.url, log.vkey), 0);
    });

    // Each size crosses a tile boundary the previous one did not: a lone partial tile, the first
    // full tile, a partial after a full one, the first level-2 tile, and a partial level 2.
    it.each([1, 256, 300, 65536, 70000])('verifies at size %i', async (size) => {
      await growTo(size);
      expectOk(await verify(log.url, log.vkey, size === 70000 ? ['-samples', '32'] : []), size);
      // 65,536 POST /add requests take about 5 s on an idle machine; a loaded one needs more.
    }, 120_000);

    // A client that kept an older checkpoint must still get its partial tiles and proofs, and a
    // consistency proof to the latest one.
    it('verifies checkpoints handed out by /add, alone and against the latest', async () => {
      const sizes = [...acks.keys()].filter((n) => n < added).sort((a, b) => a - b);
      expect(sizes.length).toBeGreaterThan(0);
      // The smallest, a few in between (odd partial widths), and the largest before the end.
      const picks = [...new Set([sizes[0]!, ...[0.25, 0.5, 0.75].map((q) => sizes[Math.floor(q * (sizes.length - 1))]!), sizes.at(-1)!])];
      for (const size of picks) {
        const file = saveCheckpoint(acks.get(size)!);
        expectOk(await verify(log.url, log.vkey, ['-checkpoint', file, '-samples', '4']), size);
        const r = await verify(log.url, log.vkey, ['-old-checkpoint', file, '-samples', '4']);
        expectOk(r, added);
        expect(r.stdout).toContain('old-checkpoint=1');
      }
    }, 30_000);

    it('fails with another log key', async () => {
      expectFail(await verify(log.url, generateSignerKey('other.candor.test').vkey), /FAIL checkpoint signature/);
    });

    it('fails when the real checkpoint comes with a tampered inclusion proof', async () => {
      const proxy = await startFixture({ upstream: log.url, tamper: 'inclusion-proof' });
      try {
        expectFail(await verify(proxy.url, log.vkey), /FAIL inclusion index=\d+ size=\d+: tlog.CheckRecord rejects/);
      } finally {
        await proxy.close();
      }
    });

    it('fails when the real checkpoint comes with a tampered consistency proof', async () => {
      const proxy = await startFixture({ upstream: log.url, tamper: 'consistency-proof' });
      try {
        expectFail(await verify(proxy.url, log.vkey), /FAIL consistency from=\d+ to=\d+: tlog.CheckTree rejects/);
      } finally {
        await proxy.close();
      }
    });
  });
});
