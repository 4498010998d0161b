// The capture's test bed: its OWN PostgreSQL (test/services/postgres.sh on a free port in a temp
// dir, wal_level = logical; stopped by PID), a real log in this process (HTTP + gRPC on
// 127.0.0.1, openings store, an auditor that may search and disclose), and `candor capture
// postgres` as a child process of the built CLI, so that it can be killed with SIGKILL.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { decodeLoggedEvent, type LoggedEvent } from '../../src/query/types.js';
import { CLI, tempDir } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { startPrivacyLog, type PrivacyLog } from '../privacy/helpers.js';

const PG_SH = fileURLToPath(new URL('../services/postgres.sh', import.meta.url));
export const AUDITOR = 'tok-capture-auditor';
export const TENANT = 'org-1';
export const PRODUCER = 'pg-capture';

/** Why this machine cannot run PostgreSQL for the tests (undefined when it can); never skipped under CI. */
export function postgresBinariesMissing(): string | undefined {
  const have = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`));
  if (have) return undefined;
  const reason = 'no PostgreSQL server binaries: run test/services/install.sh';
  if (process.env.CI) throw new Error(`under CI: ${reason}`);
  return reason;
}

export interface OwnPostgres {
  url: string;
  dir: string;
  stop(): void;
}

/** Starts a PostgreSQL of our own (postgres.sh start DIR: initdb, a free port, wal_level = logical). */
export function startPostgres(): OwnPostgres {
  const dir = tempDir('candor-capture-pg-');
  chmodSync(dir, 0o755);
  const r = spawnSync('bash', [PG_SH, 'start', dir], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`postgres.sh start failed: ${r.stderr}${r.stdout}`);
  const url = /CANDOR_TEST_PG_URL=(\S+)/.exec(readFileSync(join(dir, 'env'), 'utf8'))![1]!;
  return {
    url,
    dir,
    stop() {
      spawnSync('bash', [PG_SH, 'stop', dir], { timeout: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The superuser, over the Unix socket in DIR (trust there; TCP needs a password). */
export async function superuser(pgs: OwnPostgres): Promise<pg.Client> {
  const su = new pg.Client({ host: pgs.dir, port: Number(new URL(pgs.url).port), user: 'postgres', database: 'candor' });
  await su.connect();
  return su;
}

export interface Bed {
  pg: OwnPostgres;
  log: PrivacyLog;
  work: string;
  sql: pg.Client;
  /** Stops the log (the capture's submissions then fail and are retried). */
  stopLog(): Promise<void>;
  /** Starts it again on the same store (new ports: start a new capture). */
  startLog(): Promise<void>;
  cleanup(): Promise<void>;
}

export const GATEWAY = 'demo-gw';
const SPECS = [
  { id: PRODUCER, tenants: [TENANT], types: ['data.column.changed', 'audit.gap'] },
  { id: GATEWAY, tenants: [TENANT] },
];
const READERS = { [AUDITOR]: { id: 'aud_reconcile', tenants: [TENANT], permissions: ['search' as const, 'disclose' as const] } };

export async function startBed(): Promise<Bed> {
  const pgs = startPostgres();
  let log: PrivacyLog;
  try {
    log = await startPrivacyLog(SPECS, READERS);
  } catch (err) {
    pgs.stop();
    throw err;
  }
  const work = tempDir('candor-capture-');
  writeFileSync(join(work, 'log.vkey'), `${log.keys.vkeys.join('\n')}\n`);
  // The superuser lets the test role read pg_stat_replication's positions.
  const su = await superuser(pgs);
  await su.query('GRANT pg_read_all_stats TO candor');
  await su.end();
  const sql = new pg.Client({ connectionString: pgs.url });
  await sql.connect();
  let down = false;
  const bed: Bed = {
    pg: pgs,
    log,
    work,
    sql,
    async stopLog() {
      down = true;
      await bed.log.close();
    },
    async startLog() {
      bed.log = await startPrivacyLog(SPECS, READERS, {}, bed.log.dir, bed.log.creds);
      down = false;
    },
    async cleanup() {
      try {
        await sql.end().catch(() => undefined);
        if (down) rmSync(bed.log.dir, { recursive: true, force: true });
        else await bed.log.cleanup();
      } finally {
        // Whatever failed before, the server we started is stopped by its PID.
        pgs.stop();
        rmSync(work, { recursive: true, force: true });
      }
    },
  };
  return bed;
}

export interface CaptureProcess {
  proc: ChildProcess;
  output(): string;
  /** SIGTERM (drains and confirms) and wait for the exit code. */
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

export function captureArgs(bed: Bed, columns: string[], extra: string[] = []): string[] {
  return [
    'capture', 'postgres',
    '--pg', bed.pg.url,
    ...columns.flatMap((c) => ['--column', c]),
    '--tenant', TENANT,
    '--producer', PRODUCER,
    '--grpc', bed.log.grpc!.address,
    '--url', bed.log.url,
    '--token', bed.log.creds[PRODUCER]!.token,
    '--vkey-file', join(bed.work, 'log.vkey'),
    '--row-key-file', join(bed.work, 'row.key'),
    '--salt-key-file', join(bed.work, 'salt.key'),
    '--state', join(bed.work, 'state.json'),
    '--tick-ms', '500',
    ...extra,
  ];
}

/** Starts the capture and waits until it streams. */
export async function startCapture(bed: Bed, columns: string[], extra: string[] = []): Promise<CaptureProcess> {
  const proc = spawn(process.execPath, [CLI, ...captureArgs(bed, columns, extra)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  await waitFor('the capture to stream', () => {
    if (code !== undefined) throw new Error(`the capture exited with ${code}:\n${out}`);
    return out.includes('capture: streaming');
  }, 30_000);
  return {
    proc,
    output: () => out,
    async stop() {
      proc.kill('SIGTERM');
      return exited;
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** The slot's confirmed flush LSN, as a number. */
export async function confirmedLsn(sql: pg.Client, slot = 'candor_capture'): Promise<bigint | undefined> {
  const r = await sql.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [slot]);
  const s = r.rows[0]?.lsn;
  if (!s) return undefined;
  const [hi, lo] = s.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}

/** Waits until the capture has logged and confirmed everything committed so far (a mark it must confirm). */
export async function caughtUp(sql: pg.Client, timeoutMs = 30_000): Promise<void> {
  const r = await sql.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, 'candor.mark', 'test')::text AS lsn`);
  const [hi, lo] = r.rows[0]!.lsn.split('/');
  const mark = (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
  await waitFor('the capture to confirm the mark', async () => ((await confirmedLsn(sql)) ?? 0n) >= mark, timeoutMs);
}

/** Every event in the log. */
export async function loggedEvents(log: PrivacyLog): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for (let start = 0; start < log.service.size; start += 1000) {
    const entries = await log.service.entries({ start, end: Math.min(start + 1000, log.service.size) });
    entries.forEach((e, i) => out.push(decodeLoggedEvent(start + i, e.data)));
  }
  return out;
}

export const label = (e: LoggedEvent, key: string) => e.event.labels.find((l) => l.key === key)?.value;

/** Runs `candor reconcile --json` and returns its exit code and report. */
export function reconcile(bed: Bed, columns: string[]): Promise<{ code: number | null; report: Record<string, unknown> & { findings: { kind: string; rowKey: string; column: string; event?: { eventId: string; proof?: unknown } }[]; unverifiable: unknown[] }; stderr: string }> {
  const args = ['reconcile', '--pg', bed.pg.url, ...columns.flatMap((c) => ['--column', c]), '--tenant', TENANT, '--url', bed.log.url, '--token', AUDITOR, '--row-key-file', join(bed.work, 'row.key'), '--wait-ms', '20000', '--json'];
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`reconcile did not finish in 60 s:\n${err}`));
    }, 60_000);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, report: JSON.parse(out), stderr: err });
      } catch {
        reject(new Error(`reconcile exited with ${code} without a JSON report:\n${out}\n${err}`));
      }
    });
  });
}
