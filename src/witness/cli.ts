/**
 * The `witness` command group: set up a witness data dir, configure the logs it witnesses, and
 * serve c2sp.org/tlog-witness over HTTP (optionally polling logs that do not push).
 *
 *   witness init      --data DIR --name NAME      create the witness key, print its vkey
 *   witness vkey      --data DIR                  print the witness vkey(s)
 *   witness add-key   --data DIR --name NAME      add a key (rotation: both cosign meanwhile)
 *   witness remove-key --data DIR --vkey K        drop a key (end of a rotation)
 *   witness add-log   --data DIR --origin O --vkey K [--vkey K2]
 *   witness list-logs --data DIR
 *   witness serve     --data DIR --http HOST:PORT [--poll URL]... [--interval MS]
 *
 * The store is locked by the running witness, so configure logs while it is stopped.
 */
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { toBase64 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { DEFAULT_TIMEOUT_MS as DEFAULT_POLL_TIMEOUT_MS } from '../../clients/tiles/client.js';
import type { WitnessStore } from './store.js';

// The store (LevelDB) and the server (fastify) are loaded by the commands that use them, so that
// `candor --help` does not pay for them.
const store = () => import('./store.js');


const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^[1-9][0-9]*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** HOST:PORT, with IPv6 hosts in brackets ([::1]:8080). */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):([0-9]{1,5})$/.exec(value);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new InvalidArgumentError('expected HOST:PORT, e.g. 127.0.0.1:8080');
  return { host: m[1] ?? m[2]!, port };
}

/** Runs an action, turning CandorErrors into a one-line message and exit code 1. */
function run<A extends unknown[]>(cmd: () => Command, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof CandorError) {
        // A refused command is not a usage mistake: the reason, without the help text.
        cmd().showHelpAfterError(false);
        cmd().error(`error: ${err.message}`, { exitCode: 1, code: `candor.${err.code}` });
      }
      throw err;
    }
  };
}

/** Only `witness init` and `witness serve` may create a witness data directory. */
function existingWitnessDir(dir: string): string {
  if (!existsSync(dir)) throw new CandorError('not_found', `no witness data directory ${dir}: create it with "candor witness init --data ${dir} --name NAME", or fix --data`);
  return dir;
}

async function withStore<T>(dir: string, fn: (store: WitnessStore) => Promise<T>): Promise<T> {
  const { WitnessStore } = await store();
  const s = await WitnessStore.open(existingWitnessDir(dir));
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

export function registerWitnessCommands(program: Command): Command {
  const witness = program.command('witness').description('a c2sp.org/tlog-witness: cosigns checkpoints of logs it has verified to be consistent');

  const init: Command = witness
    .command('init')
    .description('create the witness data dir and key; prints the cosignature/v1 verifier key')
    .requiredOption('--data <dir>', 'witness data directory')
    .requiredOption('--name <name>', 'witness key name, a scheme-less URL such as witness.example.com/w1')
    .action(
      run(
        () => init,
        async (o: { data: string; name: string }) => {
          process.stdout.write(`${await (await store()).initWitnessKey(o.data, o.name)}\n`);
        },
      ),
    );

  const vkey: Command = witness
    .command('vkey')
    .description('print the verifier key of each witness key')
    .requiredOption('--data <dir>', 'witness data directory')
    .action(
      run(
        () => vkey,
        async (o: { data: string }) => {
          for (const k of await (await store()).loadWitnessKeys(existingWitnessDir(o.data))) process.stdout.write(`${k.vkey}\n`);
        },
      ),
    );

  const addKey: Command = witness
    .command('add-key')
    .description('add a witness key; every key cosigns, so clients can move to the new one')
    .requiredOption('--data <dir>', 'witness data directory')
    .requiredOption('--name <name>', 'key name of the new key')
    .action(
      run(
        () => addKey,
        async (o: { data: string; name: string }) => {
          process.stdout.write(`${await (await store()).addWitnessKey(existingWitnessDir(o.data), o.name)}\n`);
        },
      ),
    );

  const removeKey: Command = witness
    .command('remove-key')
    .description('remove the witness key with this verifier key')
    .requiredOption('--data <dir>', 'witness data directory')
    .requiredOption('--vkey <vkey>', 'cosignature/v1 verifier key of the key to remove')
    .action(
      run(
        () => removeKey,
        async (o: { data: string; vkey: string }) => {
          await (await store()).removeWitnessKey(existingWitnessDir(o.data), o.vkey);
        },
      ),
    );

  const addLog: Command = witness
    .command('add-log')
    .description('witness a log, or replace its verifier keys (its cosigned state is kept)')
    .requiredOption('--data <dir>', 'witness data directory')
    .requiredOption('--origin <origin>', 'the checkpoint origin line of the log')
    .requiredOption('--vkey <vkey>', 'a verifier key of the log (repeatable)', collect)
    .action(
      run(
        () => addLog,
        async (o: { data: string; origin: string; vkey: string[] }) => {
          await withStore(o.data, (store) => store.addLog({ origin: o.origin, vkeys: o.vkey }));
        },
      ),
    );

  const listLogs: Command = witness
    .command('list-logs')
    .description('print each witnessed log as a JSON line: origin, vkeys, cosigned size and root')
    .requiredOption('--data <dir>', 'witness data directory')
    .action(
      run(
        () => listLogs,
        async (o: { data: string }) => {
          const logs = await withStore(o.data, (store) => store.listLogs());
          for (const l of logs) {
            process.stdout.write(`${JSON.stringify({ origin: l.origin, vkeys: l.vkeys, size: l.state.size, root: toBase64(l.state.root) })}\n`);
          }
        },
      ),
    );

  const serve: Command = witness
    .command('serve')
    .description('serve POST /add-checkpoint and GET /<origin hash>/checkpoint')
    .requiredOption('--data <dir>', 'witness data directory')
    .requiredOption('--http <host:port>', 'listen address, e.g. 127.0.0.1:7380 (port 0 picks one)', parseHostPort)
    .option('--poll <url>', 'tlog-tiles prefix of a log to poll (repeatable)', collect, [] as string[])
    .option('--interval <ms>', 'polling interval', positiveInt, 60_000)
    .option('--poll-timeout <ms>', 'bound on each request to a polled log', positiveInt, DEFAULT_POLL_TIMEOUT_MS)
    .addOption(new Option('--log-level <level>', 'pino log level; requests are logged at debug').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(
      run(
        () => serve,
        async (o: { data: string; http: { host: string; port: number }; poll: string[]; interval: number; pollTimeout: number; logLevel: string }) => {
          await (await import('./serve.js')).serveWitness(o);
        },
      ),
    );

  return witness;
}
