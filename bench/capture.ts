/**
 * The database capture (docs/capture.md): how many changed values per second `candor capture
 * postgres` logs (built, submitted with verified receipts, openings deposited, slot confirmed),
 * beside PostgreSQL's own logical-decoding rate for the same transactions, read in the same run by
 * pg_recvlogical from a second slot; and `candor reconcile`'s rows per second over the same table.
 *
 *   npm run bench -- capture        (PostgreSQL's server binaries: test/services/install.sh)
 *   BENCH_CAPTURE_ROWS=20000 ...    rows inserted (default 10,000), in transactions of 1,000
 *
 * Its own PostgreSQL (test/services/postgres.sh, a free port, wal_level = logical) and a real log
 * (HTTP + gRPC) on loopback; the capture runs as a child process of the built CLI, as deployed.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startLog } from '../src/app.js';
import { AUDITORS_FILE, newAuditorToken, updateAuditorsFile } from '../src/auditors/registry.js';
import { CONFIG_DEFAULTS } from '../src/config.js';
import { Reconciler } from '../src/capture/reconcile.js';
import { parseColumn } from '../src/capture/tables.js';
import { fmt, loadText, meta, otherLoad, saveResult, writeSection, type ResultMeta } from './lib.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const PG_SH = fileURLToPath(new URL('../../test/services/postgres.sh', import.meta.url));
const ROWS = Number(process.env.BENCH_CAPTURE_ROWS ?? 10_000);
const TXN = 1000;

interface CaptureData extends ResultMeta {
  rows: number;
  decodeSeconds: number;
  captureSeconds: number;
  reconcileSeconds: number;
  /** Atomic durable file writes per second on this disk (write, fsync, rename, fsync of the directory): what the openings store does per deposit. */
  durableWritesPerSec: number;
  postgres: string;
}

/** The openings store's write (src/privacy/store.ts writeDurably), alone, one at a time. */
function durableWrites(dir: string, n = 200): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const tmp = join(dir, `w${i}.tmp`);
    const fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, 'x'.repeat(600));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(dir, `w${i}`));
    const d = openSync(dir, 'r');
    fsyncSync(d);
    closeSync(d);
  }
  return (n / (performance.now() - t0)) * 1000;
}

const lsnOf = (s: string) => {
  const [hi, lo] = s.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
};

export function captureSection(d: CaptureData): string {
  const decode = d.rows / d.decodeSeconds;
  const capture = d.rows / d.captureSeconds;
  const reconcile = d.rows / d.reconcileSeconds;
  return `
\`${d.command}\` (${d.date.slice(0, 16).replace('T', ' ')} UTC, ${d.postgres}). ${loadText(d.load.before, d.load.after)}

${fmt(d.rows)} rows inserted in transactions of ${fmt(TXN)}, one sensitive column, so one changed value per row.

| | values (rows) per second | |
|---|---|---|
| PostgreSQL's own decoding: \`pg_recvlogical\` reading a second pgoutput slot to the same end LSN (ceiling) | ${fmt(decode)} | |
| \`candor capture postgres\`: decoded, logged with verified receipts, openings deposited, slot confirmed | ${fmt(capture)} | ${fmt(capture / decode, 3)} of the ceiling (goal ≥ 0.5: **${capture / decode >= 0.5 ? 'met' : 'missed'}**) |
| \`candor reconcile\` over the same rows (snapshot, log history by search, one opening disclosed per value) | ${fmt(reconcile)} | goal ≥ 50,000 rows/s: **${reconcile >= 50_000 ? 'met' : 'missed'}** |

**Where the time goes.** Each event's openings are deposited with one HTTP request, and the
openings store writes each deposit as a file of its own, durably and synchronously on the log's
main thread (src/privacy/store.ts: write, fsync, rename, fsync of the directory; that write alone,
one at a time, runs at ${fmt(d.durableWritesPerSec)} per second on this disk). The deposits
dominate the capture's time (docs/capture.md gives the rate measured without them). Reconcile
discloses one opening per value, and each disclosure is an event the log commits before it
answers. Both need a bulk openings API: many events per request, one durable write and one
disclosure event per request (docs/capture.md, "Not done yet").
`;
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const pgDir = mkdtempSync(join(tmpdir(), 'candor-bench-capture-pg-'));
  const dir = mkdtempSync(join(tmpdir(), 'candor-bench-capture-'));
  chmodSync(pgDir, 0o755);
  const started = spawnSync('bash', [PG_SH, 'start', pgDir], { encoding: 'utf8', timeout: 90_000 });
  if (started.status !== 0) throw new Error(`postgres.sh start failed: ${started.stderr}`);
  const url = /CANDOR_TEST_PG_URL=(\S+)/.exec(readFileSync(join(pgDir, 'env'), 'utf8'))![1]!;
  const bin = `/usr/lib/postgresql/${readFileSync(join(pgDir, 'data', 'PG_VERSION'), 'utf8').trim()}/bin`;
  const sql = new pg.Client({ connectionString: url });
  let child: ReturnType<typeof spawn> | undefined;
  let log: Awaited<ReturnType<typeof startLog>> | undefined;
  try {
    await sql.connect();
    const out = execFileSync(process.execPath, [CLI, 'producer', 'add', 'pg-capture', '--data', dir, '--tenant', 'org-1', '--type', 'data.column.changed', '--type', 'audit.gap'], { encoding: 'utf8' });
    const token = out.trim().split('\n').at(-1)!.trim();
    const auditor = newAuditorToken();
    updateAuditorsFile(join(dir, AUDITORS_FILE), (doc) => {
      doc.auditors.push({ id: 'bench', tenants: ['org-1'], permissions: ['search', 'disclose'], tokens: [auditor.record], disabled: false, created: new Date().toISOString() });
    });
    log = await startLog({ ...CONFIG_DEFAULTS, data: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', logLevel: 'warn', origin: 'bench.example/capture', auditReads: false });
    writeFileSync(join(dir, 'vkey'), `${log.keys.vkeys.join('\n')}\n`);
    writeFileSync(join(dir, 'row.key'), '00112233445566778899aabbccddeeff\n');

    await sql.query(`CREATE TABLE bench (id bigint PRIMARY KEY, v text); ALTER TABLE bench REPLICA IDENTITY FULL; CREATE PUBLICATION candor_capture FOR TABLE bench`);
    await sql.query(`SELECT pg_create_logical_replication_slot('candor_capture', 'pgoutput'), pg_create_logical_replication_slot('bare', 'pgoutput')`);
    for (let i = 0; i < ROWS; i += TXN) {
      await sql.query(`INSERT INTO bench SELECT g, 'value-' || g || '-' || md5(g::text) FROM generate_series($1::bigint, $2::bigint) g`, [i + 1, Math.min(i + TXN, ROWS)]);
    }
    const end = (await sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;

    // The ceiling: PostgreSQL decoding the same transactions into pgoutput, written nowhere.
    let t0 = performance.now();
    execFileSync(`${bin}/pg_recvlogical`, ['-d', url, '-S', 'bare', '--start', '-E', end, '-o', 'proto_version=1', '-o', 'publication_names=candor_capture', '-f', '/dev/null', '--no-loop'], { stdio: 'ignore' });
    const decodeSeconds = (performance.now() - t0) / 1000;
    console.log(`pg_recvlogical: ${fmt(ROWS / decodeSeconds)} changes/s`);

    const args = ['capture', 'postgres', '--pg', url, '--column', 'public.bench.v=PII', '--tenant', 'org-1', '--producer', 'pg-capture', '--grpc', log.grpc!.address, '--url', log.url, '--token', token, '--vkey-file', join(dir, 'vkey'), '--row-key-file', join(dir, 'row.key'), '--salt-key-file', join(dir, 'salt.key'), '--state', join(dir, 'state.json')];
    child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    while (!err.includes('capture: streaming')) {
      if (child.exitCode !== null) throw new Error(`the capture exited: ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    t0 = performance.now();
    for (;;) {
      const r = await sql.query<{ lsn: string }>(`SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = 'candor_capture'`);
      if (lsnOf(r.rows[0]!.lsn) >= lsnOf(end)) break;
      if (child.exitCode !== null) throw new Error(`the capture exited: ${err}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const captureSeconds = (performance.now() - t0) / 1000;
    console.log(`capture: ${fmt(ROWS / captureSeconds)} values/s`);

    t0 = performance.now();
    const report = await new Reconciler({ pg: url, slot: 'candor_capture', tenant: 'org-1', columns: [parseColumn('public.bench.v=PII')], rowKeySecret: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), url: log.url, token: auditor.token }).run();
    const reconcileSeconds = (performance.now() - t0) / 1000;
    if (report.findings.length > 0 || report.rows !== ROWS) throw new Error(`reconcile found ${report.findings.length} findings over ${report.rows} rows`);
    console.log(`reconcile: ${fmt(ROWS / reconcileSeconds)} rows/s`);

    mkdirSync(join(dir, 'fsync-probe'));
    const durableWritesPerSec = durableWrites(join(dir, 'fsync-probe'));
    console.log(`durable file writes: ${fmt(durableWritesPerSec)}/s`);
    const version = (await sql.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    const d: CaptureData = { ...meta('capture', 'npm run bench -- capture', before, await otherLoad()), rows: ROWS, decodeSeconds, captureSeconds, reconcileSeconds, durableWritesPerSec, postgres: `PostgreSQL ${version}` };
    saveResult('capture', d);
    writeSection('Database capture', captureSection(d));
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await sql.end().catch(() => undefined);
    await log?.close();
    spawnSync('bash', [PG_SH, 'stop', pgDir], { timeout: 60_000 });
    rmSync(pgDir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
