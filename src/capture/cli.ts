/**
 * `candor capture postgres ...` and `candor reconcile ...` (docs/capture.md).
 *
 *   candor capture postgres --pg URL --column public.accounts.iban=PCI ... --tenant T --producer ID
 *                           --grpc HOST:PORT --url URL --token TOKEN --vkey-file FILE
 *                           --row-key-file FILE --salt-key-file FILE [--slot S] [--publication P] [--setup]
 *   candor reconcile --pg URL --column ... --tenant T --url URL --token READER --row-key-file FILE [--json]
 */
import { count } from '../text/plural.js';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fromHex, toHex } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** A hex secret of at least 16 bytes; created (32 random bytes, mode 0600) when `create` and missing. */
function secret(path: string, what: string, create: boolean): Uint8Array {
  if (!existsSync(path)) {
    if (!create) throw new CandorError('invalid_argument', `${what} ${path} does not exist`);
    writeFileSync(path, `${toHex(randomBytes(32))}\n`, { mode: 0o600, flag: 'wx' });
    process.stderr.write(`capture: created ${what} ${path}\n`);
  }
  const key = fromHex(readFileSync(path, 'utf8').trim(), what);
  if (key.length < 16) throw new CandorError('invalid_argument', `${what} ${path} must hold at least 16 bytes (hex)`);
  return key;
}

interface CaptureOpts {
  pg?: string;
  column: string[];
  database?: string;
  tenant: string;
  producer: string;
  grpc: string;
  url: string;
  token?: string;
  vkeyFile: string;
  rowKeyFile: string;
  saltKeyFile: string;
  slot: string;
  publication: string;
  state?: string;
  setup?: boolean;
  walWarnMb: string;
  tickMs: string;
  confirmIntervalMs: string;
}

export function registerCaptureCommands(program: Command, fail: (err: unknown) => never): void {
  const capture = program.command('capture').description('capture sensitive-column changes from a database into the log');
  capture
    .command('postgres')
    .description('log every change to the declared columns from PostgreSQL logical replication (pgoutput) as data.column.changed')
    .option('--pg <url>', 'postgres:// URL of the primary; the role needs REPLICATION (env CANDOR_CAPTURE_PG)', process.env.CANDOR_CAPTURE_PG)
    .requiredOption('--column <schema.table.column=CLASS>', 'a sensitive column and its class (PII, PCI, PHI, SECRET, OTHER); repeat', collect, [])
    .option('--database <name>', 'the database name recorded in events (default: the connection database)')
    .requiredOption('--tenant <id>', 'the tenant the events belong to')
    .requiredOption('--producer <id>', 'the producer ID this capture is registered as (candor producer add)')
    .requiredOption('--grpc <host:port>', "the log's gRPC address")
    .requiredOption('--url <url>', "the log's HTTP URL, for depositing openings")
    .option('--token <token>', "the producer's bearer token (env CANDOR_TOKEN)", process.env.CANDOR_TOKEN)
    .requiredOption('--vkey-file <file>', "the log's verifier key(s)")
    .requiredOption('--row-key-file <file>', "the tenant's row-key secret (hex), shared with its gateways; created if missing")
    .requiredOption('--salt-key-file <file>', "this capture's salt secret (hex); created if missing")
    .option('--slot <name>', 'the replication slot (permanent; created if missing)', 'candor_capture')
    .option('--publication <name>', 'the publication of the sensitive tables', 'candor_capture')
    .option('--state <file>', 'where the capture remembers its slot, to detect a lost one (default ./candor-capture-<slot>.json)')
    .option('--setup', 'create the publication and set REPLICA IDENTITY FULL on the tables')
    .option('--wal-warn-mb <n>', 'warn when the slot keeps more WAL than this', '1024')
    .option('--tick-ms <ms>', 'how often an idle capture moves its slot forward and checks retained WAL', '10000')
    .option('--confirm-interval-ms <ms>', 'confirm logged commits to the slot at most this often (0: after each commit)', '0')
    .action(async (o: CaptureOpts) => {
      try {
        if (!o.pg) throw new CandorError('invalid_argument', 'give the database with --pg or CANDOR_CAPTURE_PG');
        if (!o.token) throw new CandorError('unauthenticated', "give the producer's token with --token or CANDOR_TOKEN");
        // Loaded here, not at start-up: every other command would pay for pg and the gateway SDK.
        const { PostgresCapture } = await import('./postgres.js');
        const { parseColumn } = await import('./tables.js');
        const c = new PostgresCapture({
          pg: o.pg,
          slot: o.slot,
          publication: o.publication,
          ...(o.database !== undefined ? { database: o.database } : {}),
          tenant: o.tenant,
          columns: o.column.map(parseColumn),
          rowKeySecret: secret(o.rowKeyFile, 'row-key secret', true),
          saltSecret: secret(o.saltKeyFile, 'salt secret', true),
          gateway: { address: o.grpc, token: o.token, producer: o.producer, logKey: readFileSync(o.vkeyFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) },
          openings: { url: o.url, token: o.token },
          statePath: o.state ?? `./candor-capture-${o.slot}.json`,
          setup: o.setup ?? false,
          walWarnBytes: Number(o.walWarnMb) * 1024 * 1024,
          tickMs: Number(o.tickMs),
          confirmIntervalMs: Number(o.confirmIntervalMs),
        });
        const stop = () => void c.stop();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        await c.run();
        process.stderr.write(`capture: stopped; ${count(c.stats.events, 'event')} from ${count(c.stats.transactions, 'transaction')}, slot confirmed at ${c.stats.confirmedLsn}\n`);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('reconcile')
    .description('check that the declared columns in the database match the latest logged change of each row; exit 3 on any finding, 1 on an error')
    .option('--pg <url>', 'postgres:// URL of the database (env CANDOR_CAPTURE_PG)', process.env.CANDOR_CAPTURE_PG)
    .requiredOption('--column <schema.table.column=CLASS>', 'a sensitive column, as given to the capture; repeat', collect, [])
    .option('--database <name>', 'the database name in the events (default: the connection database)')
    .requiredOption('--tenant <id>', 'the tenant')
    .requiredOption('--url <url>', "the log's HTTP URL")
    .option('--token <token>', 'a reader token with "search" and "disclose" on the tenant (env CANDOR_TOKEN)', process.env.CANDOR_TOKEN)
    .requiredOption('--row-key-file <file>', "the tenant's row-key secret (hex)")
    .option('--slot <name>', "the capture's replication slot", 'candor_capture')
    .option('--wait-ms <ms>', 'how long to wait for the capture to reach the snapshot', '60000')
    .option('--json', 'print the report as JSON')
    .action(async (o: { pg?: string; column: string[]; database?: string; tenant: string; url: string; token?: string; rowKeyFile: string; slot: string; waitMs: string; json?: boolean }) => {
      try {
        if (!o.pg) throw new CandorError('invalid_argument', 'give the database with --pg or CANDOR_CAPTURE_PG');
        if (!o.token) throw new CandorError('unauthenticated', 'give a reader token with --token or CANDOR_TOKEN');
        const { Reconciler, plainReport } = await import('./reconcile.js');
        const { parseColumn } = await import('./tables.js');
        const { SingleBar } = await import('cli-progress');
        const bar = process.stderr.isTTY && !o.json ? new SingleBar({ format: 'reconcile [{bar}] {value}/{total} rows', stream: process.stderr }) : undefined;
        bar?.start(1, 0);
        const report = await new Reconciler({
          pg: o.pg,
          slot: o.slot,
          ...(o.database !== undefined ? { database: o.database } : {}),
          tenant: o.tenant,
          columns: o.column.map(parseColumn),
          rowKeySecret: secret(o.rowKeyFile, 'row-key secret', false),
          url: o.url,
          token: o.token,
          waitMs: Number(o.waitMs),
          progress: (n, total) => {
            bar?.setTotal(Math.max(n, total));
            bar?.update(n);
          },
        }).run();
        bar?.stop();
        process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : plainReport(report));
        process.exitCode = report.findings.length > 0 ? 3 : 0;
      } catch (err) {
        fail(err);
      }
    });
}
