// The built witness as a child process (node dist/src/cli/main.js witness ...): the CLI end to end,
// polling mode, and SIGKILL at random moments while clients push, all on 127.0.0.1.
import { createHash } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toBase64 } from '@candor/core/bytes';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { openNote, parseNote, parseVerifierKey } from '@candor/core/note';
import { TestLog, requestBody, runCli, spawnWitness, tempDir } from './helpers.js';
import { startTilesServer } from './tiles-server.js';

const ORIGIN = 'example.com/pushed';
const hashOf = (o: string) => createHash('sha256').update(o).digest('hex');

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const fresh = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};

async function http(url: string, body?: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(url, { method: body === undefined ? 'GET' : 'POST', body, signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

/** init + add-log through the CLI; returns the witness vkey. */
async function setUp(dir: string, logs: TestLog[]): Promise<string> {
  const init = await runCli(['init', '--data', dir, '--name', 'witness.example/proc']);
  expect(init.code, init.stderr).toBe(0);
  for (const l of logs) {
    const added = await runCli(['add-log', '--data', dir, '--origin', l.origin, '--vkey', l.vkey]);
    expect(added.code, added.stderr).toBe(0);
  }
  return init.stdout.trim();
}

describe('witness CLI', () => {
  it('init, vkey, add-log, list-logs, serve, and a clean SIGTERM', async () => {
    const dir = fresh();
    const log = new TestLog(ORIGIN).append(17);
    const second = new TestLog(ORIGIN);
    const init = await runCli(['init', '--data', dir, '--name', 'witness.example/proc']);
    expect(init.code).toBe(0);
    const vkey = init.stdout.trim();
    expect(parseVerifierKey(vkey)).toMatchObject({ name: 'witness.example/proc', type: 0x04 });
    expect((await stat(join(dir, 'witness.key'))).mode & 0o777).toBe(0o600);
    const secret = (await readFile(join(dir, 'witness.key'), 'utf8')).trim();
    expect((await runCli(['vkey', '--data', dir])).stdout).toBe(`${vkey}\n`);
    expect((await runCli(['init', '--data', dir, '--name', 'again'])).code).toBe(1);

    const bad = await runCli(['add-log', '--data', dir, '--origin', ORIGIN, '--vkey', 'not-a-key']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error: verifier key/);
    expect((await runCli(['add-log', '--data', dir, '--origin', ORIGIN, '--vkey', log.vkey, '--vkey', second.vkey])).code).toBe(0);
    const listed = await runCli(['list-logs', '--data', dir]);
    expect(JSON.parse(listed.stdout)).toEqual({ origin: ORIGIN, vkeys: [log.vkey, second.vkey], size: 0, root: toBase64(log.root(0)) });

    const w = await spawnWitness(dir);
    try {
      expect(w.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
      // The store is locked by the running witness.
      expect((await runCli(['list-logs', '--data', dir])).code).toBe(1);
      const res = await http(`${w.url}/add-checkpoint`, log.body(0));
      expect(res.status).toBe(200);
      const got = await http(`${w.url}/${hashOf(ORIGIN)}/checkpoint`);
      expect(got.body).toBe(log.checkpoint() + res.body);
      expect(openNote(got.body, [parseVerifierKey(vkey)]).verified).toHaveLength(1);
      expect((await http(`${w.url}/add-checkpoint`, log.body(3))).body).toBe('17\n');
    } finally {
      expect(await w.stop()).toBe(0);
    }
    // PRIVATE+KEY+<name>+<id>+<base64>: the base64 may itself contain "+".
    expect(w.output()).not.toContain(secret.split('+').slice(4).join('+'));
    expect(JSON.parse((await runCli(['list-logs', '--data', dir])).stdout)).toMatchObject({ size: 17, root: toBase64(log.root()) });
  });

  it('serve --poll cosigns a log that does not push', async () => {
    const dir = fresh();
    const log = new TestLog('example.com/polled').append(700);
    const vkey = await setUp(dir, [log]);
    const tiles = await startTilesServer(log, 300);
    const w = await spawnWitness(dir, ['--poll', tiles.url, '--interval', '50', '--poll-timeout', '2000']);
    try {
      const waitFor = async (size: number) => {
        const deadline = Date.now() + 5000;
        for (;;) {
          const got = await http(`${w.url}/${hashOf(log.origin)}/checkpoint`);
          if (got.status === 200) {
            const cp = parseCheckpoint(openNote(got.body, [parseVerifierKey(vkey), parseVerifierKey(log.vkey)]).text);
            if (cp.size === size) return cp;
          }
          if (Date.now() > deadline) throw new Error(`not cosigned at ${size}:\n${w.output()}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      await waitFor(300);
      tiles.published = 700;
      expect((await waitFor(700)).root).toEqual(log.root());
      // The proof 300 -> 700 needs [256, 512), a level-1 node, read from the tile as of size 700.
      expect(tiles.requests).toContain('tile/1/000.p/2');
      expect(tiles.requests.filter((p) => p.startsWith('tile/0/')).length).toBeGreaterThan(0);
    } finally {
      await w.stop();
      await tiles.close();
    }
  });
});

describe('SIGKILL safety', () => {
  it('never loses an acknowledged state nor cosigns a fork across kills at random moments', async () => {
    const KILLS = 5;
    const dir = fresh();
    const log = new TestLog(ORIGIN).append(1);
    const witnessKey = parseVerifierKey(await setUp(dir, [log]));
    const logKey = parseVerifierKey(log.vkey);

    /** Every checkpoint the witness answered 200 to, with who sent it. */
    const cosigned: Array<{ size: number; root: string; by: string }> = [];
    const sentSizes = new Set<number>();
    let acked = 0; // the largest size answered 200 so far
    let forksRefused = 0;
    let known = 0; // the clients' idea of the witness's size
    const problems: string[] = [];
    const history: string[] = [];

    const record = (by: string, checkpoint: string, body: string) => {
      const text = parseNote(checkpoint).text;
      const cp = parseCheckpoint(text);
      if (openNote(`${text}\n${body}`, [witnessKey]).verified.length !== 1) problems.push(`${by}: bad cosignature`);
      cosigned.push({ size: cp.size, root: toBase64(cp.root), by });
      acked = Math.max(acked, cp.size);
      known = Math.max(known, cp.size);
    };

    const honest = async (url: string, name: string, stopped: () => boolean) => {
      while (!stopped()) {
        log.append(1 + Math.floor(Math.random() * 8));
        const size = log.size;
        sentSizes.add(size);
        let old = known;
        for (let attempt = 0; attempt < 4 && old <= size; attempt++) {
          const body = log.body(old, size);
          const res = await http(`${url}/add-checkpoint`, body);
          if (res.status === 200) {
            record(name, body.slice(body.indexOf('\n\n') + 2), res.body);
            break;
          }
          if (res.status !== 409) {
            problems.push(`${name}: ${res.status} ${res.body.trim()} for ${old} -> ${size}`);
            return;
          }
          old = Number(res.body.trim());
          known = Math.max(known, old);
        }
      }
    };

    // Forks below the acknowledged size: only a witness that lost state could accept one.
    const attacker = async (url: string, stopped: () => boolean) => {
      while (!stopped()) {
        if (acked < 2) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const at = 1 + Math.floor(Math.random() * (acked - 1));
        const fork = log.fork(at).append(1 + Math.floor(Math.random() * (log.size - at + 4)));
        let res = await http(`${url}/add-checkpoint`, fork.body(at));
        if (res.status === 409) {
          const old = Number(res.body.trim());
          const proof = old > 0 && old < fork.size ? fork.proof(old) : [];
          res = await http(`${url}/add-checkpoint`, requestBody(old, proof, fork.checkpoint()));
        }
        if (res.status === 200) record('attacker', fork.checkpoint(), res.body);
        else if ([400, 409, 422].includes(res.status)) forksRefused++;
        else problems.push(`attacker: unexpected ${res.status}`);
      }
    };

    const checkStored = async (url: string, round: number) => {
      const got = await http(`${url}/${hashOf(ORIGIN)}/checkpoint`);
      if (acked === 0 && got.status === 404) return;
      expect(got.status, history.join('\n')).toBe(200);
      const opened = openNote(got.body, [witnessKey, logKey]);
      expect(opened.verified).toHaveLength(2);
      const cp = parseCheckpoint(opened.text);
      history.push(`round ${round}: stored ${cp.size}, acknowledged ${acked}`);
      expect(cp.size, history.join('\n')).toBeGreaterThanOrEqual(acked);
      expect(sentSizes.has(cp.size)).toBe(true);
      expect(toBase64(cp.root)).toBe(toBase64(log.root(cp.size)));
      known = cp.size;
    };

    for (let round = 0; round <= KILLS; round++) {
      const w = await spawnWitness(dir);
      await checkStored(w.url, round);
      if (round === KILLS) {
        expect(await w.stop()).toBe(0);
        break;
      }
      let stop = false;
      const stopped = () => stop;
      const swallow = (p: Promise<void>) => p.catch(() => undefined); // requests cut by the kill
      const [cosignedBefore, refusedBefore] = [cosigned.length, forksRefused];
      const clients = [honest(w.url, 'a', stopped), honest(w.url, 'b', stopped), attacker(w.url, stopped)].map(swallow);
      const delay = 100 + Math.floor(Math.random() * 300);
      history.push(`round ${round}: kill after ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
      // On a slow machine that moment can come before any answer: let the clients get some (bounded),
      // so every round kills the witness while it cosigns and refuses.
      for (const deadline = Date.now() + 10_000; Date.now() < deadline && (cosigned.length < cosignedBefore + 2 || forksRefused === refusedBefore); ) {
        await new Promise((r) => setTimeout(r, 5));
      }
      await w.kill();
      stop = true;
      await Promise.all(clients);
    }

    expect(problems, history.join('\n')).toEqual([]);
    expect(cosigned.filter((c) => c.by === 'attacker')).toEqual([]);
    // Every cosigned checkpoint is a head of the one real tree, so any two are consistent.
    for (const c of cosigned) expect(c.root, `size ${c.size}`).toBe(toBase64(log.root(c.size)));
    expect(cosigned.length).toBeGreaterThan(KILLS);
    expect(forksRefused).toBeGreaterThan(0);
  });
});
