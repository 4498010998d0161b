/**
 * `candor cluster up`: the processes of a cluster file as children of one command, on loopback.
 * It runs the same commands docker/compose.yaml runs (clusterPlan), starts them in order
 * (witnesses, log, gateway), each once the previous is serving, restarts one that dies (with a
 * backoff), and on SIGINT/SIGTERM stops them in reverse order and waits for each to exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CandorError } from '@candor/core/errors';
import { initCluster } from './init.js';
import { clusterPlan, paths, type Cluster, type PlannedProcess } from './topology.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

/** What each kind of process prints once it is ready. */
const READY: Record<PlannedProcess['kind'], RegExp> = {
  witness: /serving on (http:\/\/\S+)/,
  log: /serving on (http:\/\/\S+)/,
  gateway: /demo gateway (started)/,
};

/** A free loopback port (the OS picks it; it is released at once for the process to bind). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r, j) => srv.once('error', j).listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** The cluster with every port replaced by a free one (tests, or a machine where 8080 is taken). */
export async function withFreePorts(c: Cluster): Promise<Cluster> {
  return {
    ...c,
    log: { ...c.log, http: await freePort(), grpc: await freePort() },
    witnesses: await Promise.all(c.witnesses.map(async (w) => ({ ...w, http: await freePort() }))),
  };
}

interface Child {
  plan: PlannedProcess;
  proc?: ChildProcess;
  exited?: Promise<number | null>;
  restarts: number;
}

export interface ClusterUpOptions {
  cluster: Cluster;
  clusterFile: string;
  data: string;
  print: (line: string) => void;
}

export interface RunningCluster {
  /** Stops every process, gateway first, and resolves once all have exited. */
  stop(): Promise<void>;
}

export async function clusterUp(o: ClusterUpOptions): Promise<RunningCluster> {
  const data = resolve(o.data);
  const c = o.cluster;
  const keys = await initCluster(c, data, 'loopback');
  const plan = clusterPlan(c, { data, clusterFile: resolve(o.clusterFile), network: 'loopback' });
  const children: Child[] = plan.map((p) => ({ plan: p, restarts: 0 }));
  let stopping = false;

  const start = (child: Child): Promise<string> => {
    const { name, kind, args } = child.plan;
    // Its own process group: Ctrl-C reaches the supervisor only, which stops the processes in order.
    const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.proc = proc;
    child.exited = new Promise((r) => proc.once('exit', (code, signal) => r(code ?? (signal ? 128 : null))));
    o.print(`cluster: started ${name} (pid ${proc.pid}): candor ${args.join(' ')}`);
    let seen = '';
    let isReady = false;
    return new Promise<string>((ready, failed) => {
      const timer = setTimeout(() => failed(new CandorError('unavailable', `${name} did not start within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      for (const stream of [proc.stdout!, proc.stderr!]) {
        let partial = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop()!;
          for (const line of lines) o.print(`${name.padEnd(14)}| ${line}`);
          if (!isReady) {
            seen += chunk;
            const m = READY[kind].exec(seen);
            if (m) {
              isReady = true;
              clearTimeout(timer);
              ready(m[1]!);
            }
          }
        });
      }
      void child.exited!.then((code) => {
        clearTimeout(timer);
        failed(new CandorError('unavailable', `${name} exited with code ${code} before it was ready`));
        if (!stopping) restart(child, code);
      });
    });
  };

  /** A process that died is started again after 1 s, 2 s, 4 s ... up to 30 s. */
  const restart = (child: Child, code: number | null) => {
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(child.restarts, 5));
    child.restarts++;
    o.print(`cluster: ${child.plan.name} exited with code ${code}; restarting in ${delay / 1000} s`);
    setTimeout(() => {
      if (!stopping) start(child).catch((err: unknown) => o.print(`cluster: ${(err as Error).message}`));
    }, delay).unref();
  };

  const stopAll = async () => {
    stopping = true;
    for (const child of [...children].reverse()) {
      const proc = child.proc;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) continue;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const code = await child.exited;
      clearTimeout(timer);
      o.print(`cluster: ${child.plan.name} (pid ${proc.pid}) stopped, exit code ${code}`);
    }
  };

  // If the supervisor dies without stopping them (an uncaught error), its children go with it.
  process.once('exit', () => {
    for (const child of children) if (child.proc && child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGTERM');
  });
  const urls = new Map<string, string>();
  try {
    for (const child of children) urls.set(child.plan.name, await start(child));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const p = paths(data, c);
  const logUrl = urls.get('log')!;
  o.print(
    [
      '',
      `Candor cluster "${c.origin}" is up (${c.file})`,
      `  log            ${logUrl}   gRPC 127.0.0.1:${c.log.grpc}   metrics ${logUrl}/metrics`,
      `  log key        ${keys.logVkey}`,
      ...c.witnesses.map((w) => `  ${w.name.padEnd(14)} ${urls.get(w.name)}   ${keys.witnessVkeys.get(w.name)}`),
      `  gateway        ${c.gateway.producer}: ~${c.gateway.eventsPerSecond} events/s for tenant ${c.gateway.tenant}`,
      `  data           ${data}`,
      `  audit it       CANDOR_AUDITOR_TOKEN=$(cat ${p.auditorToken}) candor audit --url ${logUrl} --data ${data}/auditor --log-key '${keys.logVkey}' --policy ${p.logConfig}`,
      '  stop           Ctrl-C',
      '',
    ].join('\n'),
  );
  let stopped: Promise<void> | undefined;
  return { stop: () => (stopped ??= stopAll()) };
}
