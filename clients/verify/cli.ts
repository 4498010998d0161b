/**
 * The auditor's commands: nobody has to trust the log.
 *
 *   candor monitor      follow a log's checkpoints; alarm on a fork, inconsistency, rollback or truncation
 *   candor audit        monitor once, then download every tile and entry and recompute every hash
 *   candor proof export build an offline c2sp.org/tlog-proof bundle for an entry
 *   candor verify-proof verify a bundle with no network
 *
 * Exit codes, for scripts: 0 all good; 1 an operational error (network, usage, I/O); 2 something
 * did not verify (a signature, the witness policy, a proof); 3 ALARM: the log misbehaved, and the
 * evidence was written to <data>/evidence/.
 */
import { count } from '../../src/text/plural.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { toBase64 } from '@candor/core/bytes';
import { CandorError, invalid } from '@candor/core/errors';
import { parseVerifierKey, SIG_ED25519, type NoteVerifier } from '@candor/core/note';
import { parseProofBundle, quorumPolicy, verifyProofBundle, type CosignaturePolicy } from '@candor/core/tlog-proof';
import { WitnessPolicy } from '../../src/witnessing/policy.js';
import type { Alarm, CheckResult, MonitorOptions } from './monitor.js';
import { DEFAULT_TIMEOUT_MS, TileClient } from '../tiles/client.js';

export const EXIT_ERROR = 1;
export const EXIT_UNVERIFIED = 2;
export const EXIT_ALARM = 3;

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^[1-9][0-9]*$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^(0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

export interface TrustOptions {
  logKey?: string[];
  origin?: string;
  witnessKey?: string[];
  quorum?: number;
  policy?: string;
}

/** --log-key, --witness-key, --quorum, --policy, --origin: what a client trusts. */
export function trustOptions(c: Command, logKeyRequired: boolean): Command {
  const withKey = logKeyRequired
    ? c.requiredOption('--log-key <vkey>', 'verifier key of the log (repeatable; e.g. the lines of <data>/log.vkey)', collect)
    : c.option('--log-key <vkey>', 'verifier key of the log (repeatable)', collect);
  return withKey
    .option('--origin <origin>', 'expected checkpoint origin (default: the log key name)')
    .option('--witness-key <vkey>', 'cosignature/v1 verifier key of a trusted witness (repeatable)', collect)
    .option('--quorum <n>', 'cosignatures required among --witness-key (default: all of them)', nonNegativeInt)
    .option('--policy <file>', 'witness policy YAML (witnesses, groups, quorum; or a log config with a witnessing section)');
}

export function logVerifiers(o: TrustOptions): NoteVerifier[] {
  return (o.logKey ?? []).map((k, i) => {
    try {
      const v = parseVerifierKey(k);
      if (v.type !== SIG_ED25519) throw invalid('it is not an Ed25519 (type 0x01) log key');
      return v;
    } catch (err) {
      throw invalid(`--log-key ${i + 1}: ${(err as Error).message}`);
    }
  });
}

export function witnessPolicy(o: TrustOptions): CosignaturePolicy | undefined {
  const keys = o.witnessKey ?? [];
  if (o.policy !== undefined) {
    if (keys.length > 0 || o.quorum !== undefined) throw invalid('give either --policy or --witness-key/--quorum, not both');
    let v: unknown;
    try {
      v = parseYaml(readFileSync(o.policy, 'utf8'));
    } catch (err) {
      throw invalid(`cannot read --policy ${o.policy}: ${(err as Error).message}`);
    }
    const section = v !== null && typeof v === 'object' && 'witnessing' in v ? (v as { witnessing: unknown }).witnessing : v;
    return WitnessPolicy.parse(section, { what: o.policy, extraKeys: ['publish', 'timeoutMs', 'ackTimeoutMs', 'retryMs', 'maxRetryMs'] });
  }
  if (keys.length === 0) {
    if (o.quorum !== undefined && o.quorum > 0) throw invalid('--quorum needs --witness-key');
    return undefined;
  }
  const verifiers = keys.map((k, i) => {
    try {
      return parseVerifierKey(k);
    } catch (err) {
      throw invalid(`--witness-key ${i + 1}: ${(err as Error).message}`);
    }
  });
  return quorumPolicy(verifiers, o.quorum ?? verifiers.length);
}

function readBytes(file: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(file));
  } catch (err) {
    throw invalid(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
}

function readText(file: string, what: string): string {
  return new TextDecoder().decode(readBytes(file, what));
}

/** Runs a command body; errors become one line on stderr and the exit code of their kind. */
export function run<A extends unknown[]>(fn: (...args: A) => Promise<number>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = await fn(...args);
    } catch (err) {
      const e = err instanceof CandorError ? err : new CandorError('internal', (err as Error).message ?? String(err));
      process.stderr.write(`candor: ${e.code === 'verification_failed' ? 'NOT VERIFIED: ' : ''}${e.message}\n`);
      code = e.code === 'verification_failed' ? EXIT_UNVERIFIED : EXIT_ERROR;
    }
    process.exitCode = code;
  };
}

function printAlarm(a: Alarm): void {
  const lines = [`ALARM ${a.kind}: ${a.message}`];
  if (a.evidenceFile) lines.push(`  evidence (both signed checkpoints): ${a.evidenceFile}`);
  process.stderr.write(`${lines.join('\n')}\n`);
}

function describe(r: Exclude<CheckResult, { kind: 'alarm' }>, policy: CosignaturePolicy | undefined): string {
  const cp = r.checkpoint;
  const cos = policy ? `; cosigned by ${r.cosigners.length ? r.cosigners.join(', ') : 'no trusted witness'} (policy: ${policy.description})` : '';
  const head = `size ${cp.size} root ${toBase64(cp.root)}`;
  switch (r.kind) {
    case 'first':
      return `OK ${head}: first checkpoint, kept as the reference${cos}`;
    case 'advanced':
      return `OK ${head}: consistent with size ${r.from}${cos}`;
    case 'unchanged':
      return `OK ${head}: unchanged`;
    case 'unwitnessed':
      return `WAIT ${head}: signed by the log${r.reference === undefined ? '' : ` and consistent with size ${r.reference}`}, but does not meet the witness policy yet${cos}`;
  }
}

interface MonitorFlags extends TrustOptions {
  url: string;
  data: string;
  timeout: number;
  /** A reader token (auditor with read-log), sent with entry bundle requests only. */
  token?: string;
}

const TOKEN_HELP = 'an auditor token with the read-log permission, sent with entry bundle requests only (env CANDOR_AUDITOR_TOKEN); a public log needs none';

async function openMonitor(o: MonitorFlags): Promise<MonitorOptions> {
  const verifiers = logVerifiers(o);
  const policy = witnessPolicy(o);
  const client = new TileClient(o.url, { timeoutMs: o.timeout, ...(o.token ? { token: o.token } : {}) });
  // Loaded here, not at the top: `candor --help` must not load LevelDB.
  const { AuditorStore } = await import('./store.js');
  const store = await AuditorStore.open(o.data);
  return {
    client,
    store,
    logVerifiers: verifiers,
    ...(o.origin ? { origin: o.origin } : {}),
    ...(policy ? { policy } : {}),
    evidenceDir: join(o.data, 'evidence'),
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export function registerAuditorCommands(program: Command): void {
  const common = (c: Command) =>
    trustOptions(c, true)
      .requiredOption('--url <url>', 'the log (its tlog-tiles prefix, e.g. http://127.0.0.1:8080)')
      .requiredOption('--data <dir>', "the auditor's data dir (its state and any evidence)")
      .option('--timeout <ms>', 'bound on each HTTP request', positiveInt, DEFAULT_TIMEOUT_MS)
      .option('--token <token>', TOKEN_HELP, process.env.CANDOR_AUDITOR_TOKEN);

  common(program.command('monitor'))
    .description("follow a log's checkpoints: verify each (log key, witness policy, consistency) and raise an alarm on a fork, inconsistency, rollback or truncation (exit 3)")
    .option('--interval <ms>', 'time between polls', positiveInt, 10_000)
    .option('--once', 'check once and exit (0 verified, 2 not verified, 3 alarm)')
    .action(
      run(async (o: MonitorFlags & { interval: number; once?: boolean }) => {
        const m = await openMonitor(o);
        const { checkOnce } = await import('./monitor.js');
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        let last = '';
        try {
          for (;;) {
            let r: CheckResult;
            try {
              r = await checkOnce(m);
            } catch (err) {
              if (o.once) throw err;
              process.stderr.write(`candor monitor: ${(err as Error).message} (retrying in ${o.interval} ms)\n`);
              await sleep(o.interval, stop.signal);
              if (stop.signal.aborted) return 0;
              continue;
            }
            if (r.kind === 'alarm') {
              printAlarm(r.alarm);
              return EXIT_ALARM;
            }
            // Following, a line is printed when something changed, not at every poll.
            const line = describe(r, m.policy);
            if (o.once || (r.kind !== 'unchanged' && line !== last)) process.stdout.write(`${line}\n`);
            last = line;
            if (o.once) return r.kind === 'unwitnessed' ? EXIT_UNVERIFIED : 0;
            await sleep(o.interval, stop.signal);
            if (stop.signal.aborted) return 0;
          }
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await m.store.close();
        }
      }),
    );

  common(program.command('audit'))
    .description('verify the checkpoint as monitor does, then download every tile and entry bundle and recompute every hash up to the root; resumes where it stopped')
    .option('--concurrency <n>', 'bundles fetched ahead', positiveInt, 8)
    .option('--restart', 'audit from the first entry, ignoring saved progress')
    .option('--no-progress', 'no progress bar')
    .action(
      run(async (o: MonitorFlags & { concurrency: number; restart?: boolean; progress: boolean }) => {
        const m = await openMonitor(o);
        const { checkOnce, openVerified } = await import('./monitor.js');
        const { fullAudit } = await import('./audit.js');
        const { SingleBar } = await import('cli-progress');
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        let bar: SingleBar | undefined;
        try {
          const r = await checkOnce(m);
          if (r.kind === 'alarm') {
            printAlarm(r.alarm);
            return EXIT_ALARM;
          }
          process.stdout.write(`${describe(r, m.policy)}\n`);
          // Audit up to the newest verified checkpoint: this one if it was verified, else the reference.
          let target = r.kind === 'unwitnessed' ? undefined : r;
          if (target === undefined) {
            const note = await m.store.checkpoint();
            if (note === undefined) throw new CandorError('verification_failed', 'no checkpoint of this log has met the witness policy yet: nothing to audit against');
            target = { kind: 'unchanged', ...openVerified(note, m) };
          }
          const size = target.checkpoint.size;
          if (o.progress && process.stderr.isTTY) {
            bar = new SingleBar({ format: 'audit [{bar}] {percentage}% | {value}/{total} entries | ETA {eta_formatted}', stream: process.stderr, hideCursor: true });
            bar.start(size, 0);
          }
          const result = await fullAudit({
            client: m.client,
            store: m.store,
            checkpoint: target.checkpoint,
            note: target.note,
            concurrency: o.concurrency,
            restart: o.restart === true,
            signal: stop.signal,
            evidenceDir: join(o.data, 'evidence'),
            onProgress: (done) => bar?.update(done),
          });
          bar?.stop();
          bar = undefined;
          if (result.kind === 'alarm') {
            printAlarm(result.alarm);
            return EXIT_ALARM;
          }
          if (result.kind === 'interrupted') {
            process.stdout.write(`audit interrupted: entries [0, ${result.at}) are audited; run again to resume\n`);
            return 130;
          }
          process.stdout.write(
            `audit OK: all ${count(result.size, 'entry', 'entries')} of ${target.checkpoint.origin} downloaded and every hash recomputed up to root ${toBase64(target.checkpoint.root)}` +
              `${result.from > 0 ? ` (resumed at entry ${result.from})` : ''}; ${count(result.bundles, 'entry bundle')} and ${count(result.tiles, 'hash tile')} checked\n`,
          );
          return 0;
        } finally {
          bar?.stop();
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await m.store.close();
        }
      }),
    );

  const proof = program.command('proof').description('offline proof bundles (c2sp.org/tlog-proof)');
  trustOptions(proof.command('export'), false)
    .description('print a tlog-proof bundle for the entry at --index (the entry travels in its extra line); with --log-key it is verified first')
    .requiredOption('--url <url>', 'the log (its tlog-tiles prefix)')
    .requiredOption('--index <i>', 'the entry index', nonNegativeInt)
    .option('--checkpoint <file>', "prove against this checkpoint note (e.g. a witnessed acknowledgement's) instead of the log's current one")
    .option('--no-entry', 'leave the entry out (the verifier then needs --entry)')
    .option('--timeout <ms>', 'bound on each HTTP request', positiveInt, DEFAULT_TIMEOUT_MS)
    .option('--token <token>', TOKEN_HELP, process.env.CANDOR_AUDITOR_TOKEN)
    .action(
      run(async (o: TrustOptions & { url: string; index: number; entry: boolean; timeout: number; checkpoint?: string; token?: string }) => {
        const verifiers = logVerifiers(o);
        const policy = witnessPolicy(o);
        if (policy && verifiers.length === 0) throw invalid('--witness-key and --policy need --log-key');
        const { exportProof } = await import('./proof.js');
        const out = await exportProof({
          client: new TileClient(o.url, { timeoutMs: o.timeout, ...(o.token ? { token: o.token } : {}) }),
          index: o.index,
          includeEntry: o.entry,
          ...(o.checkpoint ? { checkpoint: readText(o.checkpoint, '--checkpoint') } : {}),
          ...(verifiers.length ? { logVerifiers: verifiers } : {}),
          ...(policy ? { policy } : {}),
          ...(o.origin ? { origin: o.origin } : {}),
        });
        process.stdout.write(out.text);
        return 0;
      }),
    );

  trustOptions(program.command('verify-proof'), true)
    .description('verify a c2sp.org/tlog-proof bundle offline: log signature, witness cosignatures, inclusion of the entry')
    .argument('<file>', 'the .tlog-proof file')
    .option('--entry <file>', 'the entry itself (default: the bundle extra data)')
    .option('--print-entry', 'write the verified entry to stdout instead of a summary')
    .action(
      run(async (file: string, o: TrustOptions & { entry?: string; printEntry?: boolean }) => {
        const verifiers = logVerifiers(o);
        const policy = witnessPolicy(o);
        const bundle = parseProofBundle(readBytes(file, 'the proof file'));
        const v = verifyProofBundle(bundle, {
          logVerifiers: verifiers,
          ...(o.origin ? { origin: o.origin } : {}),
          ...(policy ? { policy } : {}),
          ...(o.entry ? { entry: readBytes(o.entry, '--entry') } : {}),
        });
        if (o.printEntry) {
          if (!v.entry) throw invalid('--print-entry: the bundle carries no entry');
          process.stdout.write(v.entry);
          return 0;
        }
        const cos = policy ? `; cosigned by ${v.cosigners.map((c) => c.name).join(', ') || 'no witness'} (policy: ${policy.description})` : '';
        process.stdout.write(
          `proof OK: entry ${v.index} (leaf hash ${toBase64(v.leafHash)}${v.entry ? `, ${v.entry.length} bytes` : ''}) is in ${v.checkpoint.origin} at tree size ${v.checkpoint.size} (root ${toBase64(v.checkpoint.root)})${cos}\n`,
        );
        return 0;
      }),
    );
}
