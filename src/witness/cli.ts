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
import type { AddressInfo } from 'node:net';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { toBase64 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { DEFAULT_FETCH_TIMEOUT_MS, startPoller, type Poller } from './poller.js';
import { createWitnessServer } from './server.js';
import { WitnessStore, addWitnessKey, initWitnessKey, loadWitnessKeys, removeWitnessKey } from './store.js';
import { Witness } from './witness.js';

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
      if (err instanceof CandorError) cmd().error(`error: ${err.message}`, { exitCode: 1, code: `candor.${err.code}` });
      throw err;
    }
  };
}

async function withStore<T>(dir: string, fn: (store: WitnessStore) => Promise<T>): Promise<T> {
  const store = await WitnessStore.open(dir);
  try {
    return await fn(store);
  } finally {
    await store.close();
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
          process.stdout.write(`${await initWitnessKey(o.data, o.name)}\n`);
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
          for (const k of await loadWitnessKeys(o.data)) process.stdout.write(`${k.vkey}\n`);
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
          process.stdout.write(`${await addWitnessKey(o.data, o.name)}\n`);
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
          await removeWitnessKey(o.data, o.vkey);
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
    .option('--poll-timeout <ms>', 'bound on each request to a polled log', positiveInt, DEFAULT_FETCH_TIMEOUT_MS)
    .action(
      run(
        () => serve,
        async (o: { data: string; http: { host: string; port: number }; poll: string[]; interval: number; pollTimeout: number }) => {
          await serveWitness(o);
        },
      ),
    );

  return witness;
}

async function serveWitness(o: { data: string; http: { host: string; port: number }; poll: string[]; interval: number; pollTimeout: number }): Promise<void> {
  const logger = pino({ name: 'witness' });
  const keys = await loadWitnessKeys(o.data);
  const store = await WitnessStore.open(o.data);
  const witness = new Witness({ store, signers: keys.map((k) => k.signer), logger });
  const app = await createWitnessServer({ witness, logger });
  try {
    await app.listen({ host: o.http.host, port: o.http.port });
  } catch (err) {
    await store.close();
    throw new CandorError('unavailable', `cannot listen on ${o.http.host}:${o.http.port}: ${(err as Error).message}`);
  }
  const { port } = app.server.address() as AddressInfo;
  const host = o.http.host.includes(':') ? `[${o.http.host}]` : o.http.host;
  logger.info({ vkeys: keys.map((k) => k.vkey) }, 'witness keys');
  process.stdout.write(`witness serving on http://${host}:${port}\n`);

  const pollers: Poller[] = o.poll.map((url) => startPoller({ witness, url, intervalMs: o.interval, timeoutMs: o.pollTimeout, logger }));

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'witness shutting down');
    await Promise.all(pollers.map((p) => p.stop()));
    await app.close();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', (s) => void shutdown(s));
  process.once('SIGTERM', (s) => void shutdown(s));
}
