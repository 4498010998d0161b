/**
 * `candor cluster ...`: run the deployment described by a cluster file (docker/cluster.yaml).
 *
 *   cluster up            every process on 127.0.0.1, supervised (what `npm run cluster` runs)
 *   cluster init          first-start setup only: keys, registrations, the log's config (compose runs it once)
 *   cluster demo-gateway  the demo gateway process
 */
import { count } from '../text/plural.js';
import { Command, Option } from 'commander';
import { CandorError } from '@candor/core/errors';
import type { Network } from './topology.js';

// Each command loads what it runs, so that `candor --help` does not load the gateway SDK (gRPC),
// the witness store (LevelDB) or YAML.

const DEFAULT_FILE = 'docker/cluster.yaml';
const DEFAULT_DATA = './cluster-data';

/** A CandorError ends the command with its message and exit code 1. */
function run<A extends unknown[]>(cmd: () => Command, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (!(err instanceof CandorError)) throw err;
      cmd().showHelpAfterError(false);
      cmd().error(`candor: ${err.message}`, { exitCode: 1, code: `candor.${err.code}` });
    }
  };
}

/** Resolves on the first SIGINT or SIGTERM. */
function signalled(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('run a log, its witnesses and a demo gateway from one cluster file (docker/cluster.yaml)');
  const common = (c: Command) =>
    c.option('--config <file>', 'the cluster file', DEFAULT_FILE).option('--data <dir>', 'data directory of every process of the cluster', DEFAULT_DATA);

  const up: Command = common(cluster.command('up'))
    .description('start every process on 127.0.0.1 and keep them running; Ctrl-C stops them all')
    .option('--any-ports', 'use free ports instead of the ones in the cluster file')
    .action(
      run(
        () => up,
        async (o: { config: string; data: string; anyPorts?: boolean }) => {
          const { readCluster } = await import('./topology.js');
          const { clusterUp, withFreePorts } = await import('./supervisor.js');
          const file = readCluster(o.config);
          const c = o.anyPorts ? await withFreePorts(file) : file;
          const print = (line: string) => void process.stdout.write(`${line}\n`);
          const stop = signalled();
          const running = await clusterUp({ cluster: c, clusterFile: o.config, data: o.data, print });
          print(`cluster: ${await stop}: stopping`);
          await running.stop();
          print('cluster: stopped');
        },
      ),
    );

  const init: Command = common(cluster.command('init'))
    .description('create keys, witness registrations, the gateway producer and the log config, if missing; then exit')
    .addOption(new Option('--network <mode>', 'how processes reach each other').choices(['loopback', 'compose']).default('loopback'))
    .action(
      run(
        () => init,
        async (o: { config: string; data: string; network: Network }) => {
          const { readCluster } = await import('./topology.js');
          const { initCluster } = await import('./init.js');
          const c = readCluster(o.config);
          const keys = await initCluster(c, o.data, o.network);
          process.stdout.write(`cluster ${c.origin} initialised in ${o.data}\n  log key ${keys.logVkey}\n`);
          for (const [name, vkey] of keys.witnessVkeys) process.stdout.write(`  ${name} ${vkey}\n`);
        },
      ),
    );

  const gateway: Command = common(cluster.command('demo-gateway'))
    .description("write a steady stream of realistic audit events through the gateway SDK, with the cluster's producer credentials")
    .requiredOption('--grpc <host:port>', "the log's gRPC address")
    .action(
      run(
        () => gateway,
        async (o: { config: string; data: string; grpc: string }) => {
          const { readCluster } = await import('./topology.js');
          const { gatewaySecrets } = await import('./init.js');
          const { runDemoGateway } = await import('./demo-gateway.js');
          const c = readCluster(o.config);
          const secrets = gatewaySecrets(c, o.data);
          const stop = new AbortController();
          void signalled().then(() => {
            stop.abort();
            // An event in hand may be waiting for a log that is gone (the SDK retries for minutes).
            setTimeout(() => process.exit(0), 5000).unref();
          });
          process.stdout.write(`demo gateway started: ${c.gateway.producer} -> ${o.grpc}, ~${c.gateway.eventsPerSecond} events/s\n`);
          const r = await runDemoGateway({
            address: o.grpc,
            token: secrets.token,
            logVkey: secrets.logVkey,
            signerKey: secrets.signerKey,
            producer: c.gateway.producer,
            tenant: c.gateway.tenant,
            eventsPerSecond: c.gateway.eventsPerSecond,
            signal: stop.signal,
            report: (s) => process.stdout.write(`demo gateway: ${count(s.events, 'event')} recorded and verified, tree size ${s.treeSize}${s.failures ? `, ${count(s.failures, 'failure')}` : ''}\n`),
          });
          process.stdout.write(`demo gateway stopped after ${count(r.events, 'event')}\n`);
        },
      ),
    );
}
