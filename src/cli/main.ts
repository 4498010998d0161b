#!/usr/bin/env node
/**
 * `candor`: keygen, serve, add, verify. Each command is a thin layer over the library: flags in,
 * a call, a readable answer out, and a non-zero exit code with a one-line reason on failure.
 */
import { count } from '../text/plural.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { generateSignerKey, parseVerifierKey } from '@candor/core/note';
import { nodeEd25519, nodeHasher } from '../crypto/node.js';
import type { Config } from '../config.js';
import { LogClient } from '../../clients/log/client.js';
import { registerWitnessCommands } from '../witness/cli.js';
import { registerProducerCommands } from '../producers/cli.js';
import { registerAuditorCommands } from '../../clients/verify/cli.js';
import { registerPrivacyCommands } from '../privacy/cli.js';
import { registerConfigCommands } from './config-commands.js';
import { registerClusterCommands } from '../cluster/cli.js';
import { registerAuditorRegistryCommands } from '../auditors/cli.js';
import { registerExportCommands } from '../../clients/verify/export.js';
import { registerInitCommand } from './init.js';
import { registerCaptureCommands } from '../capture/cli.js';
import { registerBackupCommands } from '../backup/cli.js';

const DEFAULT_URL = process.env.CANDOR_URL ?? 'http://127.0.0.1:8080';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

function fail(err: unknown): never {
  const msg = err instanceof Error ? err.message : String(err);
  process.stderr.write(`candor: ${msg}\n`);
  process.exit(err instanceof CandorError && err.code === 'verification_failed' ? 2 : 1);
}

interface LogKeyOpts {
  logKey?: string[];
  logKeyFile?: string;
  /** Deprecated spellings of logKey and logKeyFile. */
  vkey?: string[];
  vkeyFile?: string;
}

/** The log's verifier key has one name in every command: --log-key, and here --log-key-file. */
const logKeyOptions = (c: Command, fileHelp = 'file with the log verifier keys, one per line (e.g. data/log.vkey)') =>
  c
    .option('--log-key <vkey>', 'verifier key of the log; repeatable', collect)
    .option('--log-key-file <file>', fileHelp)
    .addOption(new Option('--vkey <vkey>', 'deprecated: --log-key').argParser(collect).hideHelp())
    .addOption(new Option('--vkey-file <file>', 'deprecated: --log-key-file').hideHelp());

function readVkeys(opts: LogKeyOpts): string[] {
  if (opts.vkey || opts.vkeyFile) process.stderr.write('candor: --vkey and --vkey-file are deprecated; use --log-key and --log-key-file\n');
  const keys = [...(opts.logKey ?? []), ...(opts.vkey ?? [])];
  const file = opts.logKeyFile ?? opts.vkeyFile;
  if (file) keys.push(...readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean));
  if (keys.length === 0) throw new CandorError('invalid_argument', 'give the log verifier key with --log-key or --log-key-file');
  return keys;
}

const program = new Command('candor')
  .description('A tamper-evident transparency log for audit events (RFC 9162, C2SP tlog-tiles).')
  .version((JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version)
  .showHelpAfterError();

program
  .command('keygen')
  .description('create an Ed25519 log signer key in golang.org/x/mod note format')
  .requiredOption('--origin <name>', 'the log origin, which names the key (e.g. log.example.com/audit)')
  .option('--out <file>', 'write the signer key to this file (mode 0600) instead of printing it')
  .action((o: { origin: string; out?: string }) => {
    const { skey, vkey } = generateSignerKey(o.origin);
    if (o.out) {
      writeFileSync(o.out, `${skey}\n`, { mode: 0o600, flag: 'wx' });
      process.stdout.write(`signer key written to ${o.out}\nverifier key: ${vkey}\n`);
    } else {
      process.stdout.write(`${skey}\n${vkey}\n`);
    }
  });

program
  .command('serve')
  .description('serve the log over HTTP, creating keys and data on first start')
  .option('--config <file>', 'YAML or JSON config file (env CANDOR_CONFIG)')
  .option('--data <dir>', 'data directory (env CANDOR_DATA; default ./data)')
  .option('--http <host:port>', 'HTTP listen address (env CANDOR_HTTP; default 127.0.0.1:8080)')
  .option('--origin <name>', 'log origin for a new log (env CANDOR_ORIGIN)')
  .option('--key <file>', 'signer key file; repeat to sign with several keys (default <data>/log.key)', collect)
  .option('--batch-max-entries <n>', 'close a batch at this many entries')
  .option('--batch-max-delay-ms <ms>', 'close a batch after this many milliseconds')
  .option('--queue-max-entries <n>', 'submissions queued before new ones get 503')
  .option('--log-level <level>', 'pino log level (env CANDOR_LOG_LEVEL; default info)')
  .option('--grpc <host:port>', 'gRPC listen address for event ingestion (env CANDOR_GRPC; off by default)')
  .option('--grpc-tls-cert <file>', 'TLS certificate for gRPC (PEM; env CANDOR_GRPC_TLS_CERT)')
  .option('--grpc-tls-key <file>', 'TLS private key for gRPC (PEM; env CANDOR_GRPC_TLS_KEY)')
  .option('--grpc-tls-client-ca <file>', 'CA for producer client certificates, mutual TLS (env CANDOR_GRPC_TLS_CLIENT_CA)')
  .option('--http-tls-cert <file>', 'TLS certificate for HTTP (PEM; env CANDOR_HTTP_TLS_CERT)')
  .option('--http-tls-key <file>', 'TLS private key for HTTP (PEM; env CANDOR_HTTP_TLS_KEY)')
  .option('--http-tls-client-ca <file>', 'CA for producer client certificates over HTTP, mutual TLS (env CANDOR_HTTP_TLS_CLIENT_CA)')
  .option('--admin <host:port>', 'admin listener: /metrics and admin routes (env CANDOR_ADMIN; off by default; keep it on loopback)')
  .option('--public-entries', 'serve entries to anyone, not only to auditors with read-log (env CANDOR_PUBLIC_ENTRIES)')
  .action(async (o: Record<string, string | string[] | boolean | undefined>) => {
    // Loaded here, not at the top: `candor --help` must not pay for fastify, gRPC and LevelDB.
    const { loadConfig } = await import('../config.js');
    const { startLog } = await import('../app.js');
    let config: Config;
    try {
      config = loadConfig({
        file: o.config as string | undefined,
        flags: {
          data: o.data,
          http: o.http,
          origin: o.origin,
          keys: o.key,
          batchMaxEntries: o.batchMaxEntries,
          batchMaxDelayMs: o.batchMaxDelayMs,
          queueMaxEntries: o.queueMaxEntries,
          logLevel: o.logLevel,
          grpc: o.grpc,
          grpcTlsCert: o.grpcTlsCert,
          grpcTlsKey: o.grpcTlsKey,
          grpcTlsClientCa: o.grpcTlsClientCa,
          httpTlsCert: o.httpTlsCert,
          httpTlsKey: o.httpTlsKey,
          httpTlsClientCa: o.httpTlsClientCa,
          admin: o.admin,
          publicEntries: o.publicEntries,
        },
      });
    } catch (err) {
      fail(err);
    }
    await (await import('./ports.js')).checkListenAddresses(config).catch(fail);
    // A store several nodes may share (the cloud driver): lead or follow (src/cluster/ha.ts).
    const lease = await (await import('../storage/open.js')).openLease(config.storage).catch(fail);
    if (lease) return serveHighlyAvailable(config, lease);
    const log = await startLog(config).catch(fail);
    const u = log.url;
    process.stdout.write(
      [
        `Candor log "${log.keys.origin}" serving on ${u}`,
        `  data           ${config.data}${log.keys.created ? ' (new log: key created)' : ''}`,
        `  tree size      ${log.sequencer.size}`,
        `  verifier key   ${log.keys.vkeys.join('\n                 ')}`,
        `                 (also in ${config.data}/log.vkey)`,
        `  checkpoint     ${u}/checkpoint`,
        `  tiles          ${u}/tile/<L>/<N>[.p/<W>]   ${u}/tile/entries/<N>[.p/<W>]`,
        `  submit         curl --data-binary @FILE -H 'Content-Type: application/octet-stream' ${u}/add`,
        `  proofs         ${u}/proof/inclusion?index=I   ${u}/proof/consistency?from=M&to=N`,
        `  entries        ${u}/entries?start=S&end=E${config.publicEntries ? '' : '   (auditors with read-log)'}`,
        `  health         ${u}/healthz   metrics ${log.admin ? log.admin.url : u}/metrics`,
        ...(log.admin ? [`  admin          ${log.admin.url}/v1/admin/producers`] : []),
        `  events         POST ${u}/v1/events${log.grpc ? `   gRPC candor.v1.LogService on ${log.grpc.address}` : ''}   (${count(log.producers.size, 'producer')}; "candor producer add")`,
        `  reads          ${log.search ? `${u}/v1/search   ${u}/v1/tail   ` : ''}${u}/v1/reviews/<id>/timeline   ${u}/v1/export   (auditors: "candor auditor add")`,
        '',
      ].join('\n'),
    );
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.http.log.info(`${signal}: draining the queue and stopping`);
      log.close().then(
        () => process.exit(0),
        (err) => fail(err),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });

/**
 * `candor serve` on a shared store: the node leads while it holds the lease and follows otherwise,
 * restarting the log in-process on the same ports at each change of role (src/cluster/ha.ts).
 */
async function serveHighlyAvailable(config: Config, lease: import('../storage/lease.js').LeaderLease): Promise<void> {
  const { HaNode } = await import('../cluster/ha.js');
  const out = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  const node = new HaNode(config, lease, { info: out, error: (obj, msg) => out(`${msg}${'err' in obj ? `: ${(obj.err as Error).message}` : ''}`) });
  let banner = false;
  node.onStarted = (log, status) => {
    if (!banner) out(`Candor log "${log.keys.origin}" serving on ${log.url} (high availability: node ${node.id})`);
    banner = true;
    out(`high availability: ${status.role} at tree size ${log.sequencer.size}, lease term ${status.term}${status.role === 'follower' && status.leader ? `, leader ${status.leader}` : ''}`);
  };
  await node.start().catch(fail);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    out(`${signal}: stopping (a leader commits what it queued and hands the lease over)`);
    node.close().then(
      () => process.exit(0),
      (err) => fail(err),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

const add = program
  .command('add')
  .description('submit an entry and verify its acknowledgement (checkpoint signature and inclusion proof)')
  .argument('[data]', 'the entry as a UTF-8 string (or use --file)')
  .option('--file <file>', 'read the entry from a file')
  .option('--url <url>', 'log URL (env CANDOR_URL)', DEFAULT_URL);
logKeyOptions(add)
  .action(async (data: string | undefined, o: { file?: string; url: string; vkey?: string[]; vkeyFile?: string }) => {
    try {
      if ((data === undefined) === (o.file === undefined)) throw new CandorError('invalid_argument', 'give the entry as an argument or with --file, not both');
      const entry = o.file ? new Uint8Array(readFileSync(o.file)) : utf8(data!);
      const client = new LogClient(o.url, readVkeys(o));
      const r = await client.add(entry);
      process.stdout.write(
        `${JSON.stringify(
          {
            index: r.index,
            leafHash: toBase64(r.leafHash),
            size: r.checkpoint.checkpoint.size,
            duplicate: r.duplicate,
            inclusionProof: r.inclusionProof.map(toBase64),
            checkpoint: r.checkpoint.note,
            verified: true,
          },
          null,
          2,
        )}\n`,
      );
    } catch (err) {
      fail(err);
    }
  });

program
  .command('fsck')
  .description('check a stopped log store offline: every bundle, tile, interior and the checkpoint; names each bad tile')
  .option('--data <dir>', 'data directory (env CANDOR_DATA; default ./data)')
  .option('--log-key-file <file>', 'the log verifier keys, one per line (default <data>/log.vkey)')
  .addOption(new Option('--vkey-file <file>', 'deprecated: --log-key-file').hideHelp())
  .action(async (o: { data?: string; logKeyFile?: string; vkeyFile?: string }) => {
    try {
      const data = o.data ?? process.env.CANDOR_DATA ?? './data';
      if (!existsSync(join(data, 'db'))) throw new CandorError('invalid_argument', `no log store at ${join(data, 'db')}`);
      const verifiers = readVkeys({ ...o, logKeyFile: o.logKeyFile ?? o.vkeyFile ?? join(data, 'log.vkey') }).map((k) => parseVerifierKey(k, nodeEd25519));
      const { LevelStore } = await import('../storage/level.js');
      const { fsck } = await import('../storage/fsck.js');
      const store = await LevelStore.open(join(data, 'db'));
      const report = await fsck({ store, hasher: nodeHasher, verifiers }).finally(() => store.close());
      for (const p of report.problems) process.stdout.write(`BAD ${p.path}: ${p.message}\n`);
      const summary = `size ${report.size}: ${count(report.bundles, 'entry bundle')}, ${count(report.tiles, 'hash tile')} checked`;
      if (report.problems.length > 0) {
        process.stderr.write(`candor fsck: ${report.problems.length} problem(s) in the store at ${data} (${summary})\n`);
        process.exit(3);
      }
      process.stdout.write(`fsck OK: ${summary}\n`);
    } catch (err) {
      fail(err);
    }
  });

const verify = program.command('verify').description("verify a log's checkpoint, an inclusion proof or a consistency proof");
const common = (c: Command) =>
  logKeyOptions(c.option('--url <url>', 'log URL (env CANDOR_URL)', DEFAULT_URL));

common(verify.command('checkpoint').description("fetch the log's checkpoint and check its signature"))
  .option('--file <file>', 'verify this checkpoint note instead of fetching one')
  .action(async (o: { url: string; vkey?: string[]; vkeyFile?: string; file?: string }) => {
    try {
      const client = new LogClient(o.url, readVkeys(o));
      const cp = o.file ? client.verifyCheckpoint(readFileSync(o.file, 'utf8')) : await client.checkpoint();
      process.stdout.write(`checkpoint OK: origin ${cp.checkpoint.origin}, size ${cp.checkpoint.size}, root ${toBase64(cp.checkpoint.root)}\n`);
    } catch (err) {
      fail(err);
    }
  });

common(verify.command('inclusion').description('prove that an entry is in the log under its latest checkpoint'))
  .addOption(new Option('--index <i>', 'the entry index').conflicts(['hash', 'file']))
  .addOption(new Option('--hash <base64>', 'the leaf hash').conflicts('file'))
  .option('--file <file>', 'the entry itself (its leaf hash is computed)')
  .action(async (o: { url: string; vkey?: string[]; vkeyFile?: string; index?: string; hash?: string; file?: string }) => {
    try {
      const client = new LogClient(o.url, readVkeys(o));
      const cp = await client.checkpoint();
      const leafHash = o.hash ? fromBase64(o.hash, '--hash') : o.file ? client.hasher.leaf(new Uint8Array(readFileSync(o.file))) : undefined;
      if (!leafHash && o.index === undefined) throw new CandorError('invalid_argument', 'give --index, --hash or --file');
      const index = o.index === undefined ? undefined : Number(o.index);
      if (index !== undefined && !Number.isSafeInteger(index)) throw new CandorError('invalid_argument', '--index must be an integer');
      const p = await client.proveInclusion(cp.checkpoint, { index, leafHash });
      process.stdout.write(`inclusion OK: index ${p.index} is in tree size ${cp.checkpoint.size} (root ${toBase64(cp.checkpoint.root)})\n`);
    } catch (err) {
      fail(err);
    }
  });

common(verify.command('consistency').description('prove that the latest checkpoint extends an older one you kept'))
  .requiredOption('--old <file>', 'an older checkpoint note from this log')
  .action(async (o: { url: string; vkey?: string[]; vkeyFile?: string; old: string }) => {
    try {
      const client = new LogClient(o.url, readVkeys(o));
      const older = client.verifyCheckpoint(readFileSync(o.old, 'utf8')).checkpoint;
      const newer = (await client.checkpoint()).checkpoint;
      if (older.origin !== newer.origin) throw new CandorError('verification_failed', 'the checkpoints are for different origins');
      if (older.size > newer.size) throw new CandorError('verification_failed', `rollback: the log is at size ${newer.size}, below the kept size ${older.size}`);
      await client.proveConsistency(older, newer);
      process.stdout.write(`consistency OK: size ${older.size} -> ${newer.size}\n`);
    } catch (err) {
      fail(err);
    }
  });

program
  .command('index')
  .description('search indexes (docs/search.md)')
  .command('rebuild')
  .description('drop and rebuild every search index from the log (stop the server first)')
  .option('--data <dir>', 'data directory (default ./data)', './data')
  .action(async (o: { data: string }) => {
    try {
      const { join } = await import('node:path');
      const { SingleBar, Presets } = await import('cli-progress');
      const { LevelStore } = await import('../storage/level.js');
      const { rebuildIndexes } = await import('../query/rebuild.js');
      if (!existsSync(join(o.data, 'db'))) throw new CandorError('invalid_argument', `no log store at ${join(o.data, 'db')}`);
      const store = await LevelStore.open(join(o.data, 'db'));
      const bar = new SingleBar({ format: 'rebuilding indexes [{bar}] {value}/{total} entries, {eta}s left', stream: process.stderr }, Presets.shades_classic);
      try {
        const size = await rebuildIndexes(store, (done, total) => (done === 0 ? bar.start(total, 0) : bar.update(done)));
        bar.stop();
        process.stdout.write(`indexes rebuilt for ${count(size, 'entry', 'entries')}\n`);
      } finally {
        await store.close();
      }
    } catch (err) {
      fail(err);
    }
  });

registerInitCommand(program, fail);
registerWitnessCommands(program);
registerProducerCommands(program);
registerAuditorCommands(program);
registerPrivacyCommands(program, fail);
registerConfigCommands(program);
registerClusterCommands(program);
registerAuditorRegistryCommands(program);
registerExportCommands(program);
registerCaptureCommands(program, fail);
registerBackupCommands(program, fail);

await program.parseAsync(process.argv);
