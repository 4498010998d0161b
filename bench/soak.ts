/**
 * SIGKILL under full load, at random moments, repeated: a real `candor serve` process takes
 * concurrent POST /add traffic, is killed with SIGKILL, restarted on the same data directory, and
 * then every entry it ever acknowledged must be at its acknowledged index with its bytes, the
 * entries must hash to the new checkpoint's root, served proofs must verify, and the new
 * checkpoint must be consistent with every checkpoint handed out before.
 *
 * test/crash/sigkill.test.ts runs a few rounds in CI; `npm run bench -- soak` runs
 * BENCH_SOAK_KILLS rounds (default 40) and writes the counts to bench/RESULTS.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { equal, fromBase64, utf8 } from '@candor/core/bytes';
import { openCheckpoint, type Checkpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { CompactRange, verifyConsistency, verifyInclusion } from '@candor/core/merkle';
import { parseVerifierKey, type NoteVerifier } from '@candor/core/note';
import { fmt, headline, meta, otherLoad, saveResult, writeSection, type ResultMeta } from './lib.js';
import { startCandor } from './servers.js';

const ORIGIN = 'crash.example/log';

export interface KillStats {
  kills: number;
  /** Acknowledged entries, each checked at its index after every restart that followed it. */
  acknowledged: number;
  checkpoints: number;
  /** Entries in the tree at the end (acknowledged or not). */
  size: number;
}

/** A log server process on a data directory: its URL, and SIGKILL / SIGTERM that resolve on exit. */
export interface LogProcess {
  url: string;
  kill(): Promise<void>;
  stop(): Promise<unknown>;
}
export type StartLog = (dir: string, args: string[]) => Promise<LogProcess>;

interface Acked {
  index: number;
  entry: Uint8Array;
}

/** Thrown with a message saying what was lost or inconsistent. */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`durability violated: ${what}`);
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

async function stream(url: string, verifiers: NoteVerifier[], round: number, writers: number, acked: Acked[], checkpoints: Map<number, Checkpoint>, stop: { now: boolean }) {
  const writer = async (w: number) => {
    for (let i = 0; !stop.now; i++) {
      const entry = utf8(`round ${round} writer ${w} entry ${i} ${Math.random()}`);
      let ack: { index: number; checkpoint: string; inclusionProof: string[] };
      try {
        const res = await fetch(`${url}/add`, { method: 'POST', body: entry, headers: { 'Content-Type': 'application/octet-stream' } });
        if (res.status !== 200) continue;
        ack = (await res.json()) as typeof ack;
      } catch {
        return; // the server died mid-request: this one was never acknowledged
      }
      const cp = openCheckpoint(ack.checkpoint, verifiers, ORIGIN).checkpoint;
      verifyInclusion(H, ack.index, cp.size, H.leaf(entry), ack.inclusionProof.map((p) => fromBase64(p)), cp.root);
      acked.push({ index: ack.index, entry });
      checkpoints.set(cp.size, cp);
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
}

/** Checks everything acknowledged and every checkpoint seen against the restarted log. */
async function verify(url: string, verifiers: NoteVerifier[], acked: Acked[], checkpoints: Map<number, Checkpoint>): Promise<Checkpoint> {
  const now = openCheckpoint(await (await fetch(`${url}/checkpoint`)).text(), verifiers, ORIGIN).checkpoint;
  const byIndex = new Map(acked.map((a) => [a.index, a]));
  check(byIndex.size === acked.length, 'two acknowledged entries share an index');
  const range = new CompactRange(H);
  for (let start = 0; start < now.size; start += 1000) {
    const page = await json<{ entries: { index: number; data: string }[] }>(`${url}/entries?start=${start}&end=${Math.min(now.size, start + 1000)}`);
    for (const e of page.entries) {
      const data = fromBase64(e.data);
      range.append(H.leaf(data));
      const a = byIndex.get(e.index);
      if (a) check(equal(data, a.entry), `entry ${e.index} is not the entry acknowledged there`);
      byIndex.delete(e.index);
    }
  }
  check(byIndex.size === 0, `${byIndex.size} acknowledged entries are missing (first: index ${[...byIndex.keys()][0]})`);
  check(range.size === now.size && equal(range.root(), now.root), 'the entries do not hash to the checkpoint root');
  // Served proofs verify under the new checkpoint, for a sample of acknowledged entries.
  const step = Math.max(1, Math.floor(acked.length / 40));
  for (let i = 0; i < acked.length; i += step) {
    const a = acked[i]!;
    const p = await json<{ proof: string[] }>(`${url}/proof/inclusion?index=${a.index}&size=${now.size}`);
    verifyInclusion(H, a.index, now.size, H.leaf(a.entry), p.proof.map((x) => fromBase64(x)), now.root);
  }
  for (const old of checkpoints.values()) {
    if (old.size === 0) continue;
    const p = await json<{ proof: string[] }>(`${url}/proof/consistency?from=${old.size}&to=${now.size}`);
    verifyConsistency(H, old.size, now.size, old.root, now.root, p.proof.map((x) => fromBase64(x)));
  }
  return now;
}

/**
 * Runs `kills` rounds of load, SIGKILL at a random moment (150–500 ms into the round), restart
 * and verification on a log in `dir`. Throws on the first violation.
 */
export async function killRounds(start: StartLog, dir: string, kills: number, opts: { writers?: number; onRound?: (s: KillStats) => void } = {}): Promise<KillStats> {
  const acked: Acked[] = [];
  const checkpoints = new Map<number, Checkpoint>();
  let log = await start(dir, ['--origin', ORIGIN]);
  const verifiers = [parseVerifierKey(readFileSync(join(dir, 'log.vkey'), 'utf8').trim().split('\n')[0]!)];
  const stats: KillStats = { kills: 0, acknowledged: 0, checkpoints: 0, size: 0 };
  try {
    for (let round = 0; round < kills; round++) {
      const stop = { now: false };
      const traffic = stream(log.url, verifiers, round, opts.writers ?? 16, acked, checkpoints, stop);
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 350));
      await log.kill();
      stop.now = true;
      await traffic;
      log = await start(dir, []);
      const now = await verify(log.url, verifiers, acked, checkpoints);
      Object.assign(stats, { kills: round + 1, acknowledged: acked.length, checkpoints: checkpoints.size, size: now.size });
      opts.onRound?.(stats);
    }
  } finally {
    await log.stop();
  }
  return stats;
}

interface SoakResult extends ResultMeta, KillStats {
  seconds: number;
}

export function soakSection(d: SoakResult): string {
  return [
    headline(d, `${fmt(d.kills)} SIGKILLs of a loaded server, 16 concurrent writers, ${fmt(d.seconds)} s`),
    '',
    `**${fmt(d.kills)} kills survived with zero acknowledged entries lost**: after each restart, every one of the ${fmt(d.acknowledged)} entries acknowledged so far was at its acknowledged index with its bytes, the ${fmt(d.size)} entries hashed to the new checkpoint's root, sampled inclusion proofs verified, and the new checkpoint was proven consistent with each of the ${fmt(d.checkpoints)} checkpoints handed out before. See [docs/faults.md](../docs/faults.md).`,
  ].join('\n');
}

const startChild: StartLog = async (dir, args) => {
  // The checks read every entry back without credentials: a public log.
  const c = await startCandor(dir, ['--public-entries', ...args]);
  return {
    url: c.url,
    stop: () => c.stop(),
    async kill() {
      const exited = new Promise((r) => c.proc.once('exit', r));
      c.proc.kill('SIGKILL');
      await exited;
    },
  };
};

export async function main(): Promise<void> {
  const kills = Number(process.env.BENCH_SOAK_KILLS ?? 40);
  const dir = mkdtempSync(join(tmpdir(), 'candor-soak-'));
  const before = await otherLoad();
  const t0 = performance.now();
  try {
    const stats = await killRounds(startChild, dir, kills, { onRound: (s) => s.kills % 5 === 0 && console.log(`  ${s.kills} kills, ${fmt(s.acknowledged)} acknowledged entries checked, tree size ${fmt(s.size)}`) });
    const d: SoakResult = { ...meta('soak', 'npm run bench -- soak', before), ...stats, seconds: (performance.now() - t0) / 1000 };
    saveResult('soak', d);
    writeSection('Crash soak', soakSection(d));
    console.log(`soak: ${stats.kills} kills, ${stats.acknowledged} acknowledged entries checked, none lost`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
