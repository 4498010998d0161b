/**
 * The cluster file (docker/cluster.yaml): the processes of a Candor deployment (a log, its
 * witnesses, a demo gateway), their ports and the witness policy. `candor cluster up` runs them
 * on loopback and docker/compose.yaml runs them in containers; both take their commands from
 * `clusterPlan`, so the two cannot differ (test/cluster/cluster.test.ts compares them).
 *
 * Every value is checked when the file is read, and a bad one is reported with its key
 * ("cluster.yaml witnesses[1].http must be a port ..."), like the log's own configuration.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CandorError, invalid } from '@candor/core/errors';
import { FIELDS, type Config } from '../config.js';
import { checkKeys } from '../witnessing/policy.js';

export interface ClusterWitness {
  name: string;
  http: number;
}

export interface Cluster {
  /** Where it was read from, for messages. */
  file: string;
  origin: string;
  log: { http: number; grpc: number; config: Record<string, unknown> };
  witnesses: ClusterWitness[];
  /** The witnessing section of the log's config, without its witnesses. */
  witnessing: Record<string, unknown>;
  gateway: { producer: string; tenant: string; eventsPerSecond: number };
}

/**
 * How processes reach each other. "loopback": everything on 127.0.0.1. "compose": each process
 * listens on all interfaces of its container and is reached by its service name.
 */
export type Network = 'loopback' | 'compose';

/** Keys of the log's configuration that the cluster sets itself. */
const CLUSTER_SET: ReadonlyArray<keyof Config> = ['data', 'http', 'grpc', 'keys', 'origin', 'witnessing'];
const NAME = /^[a-z][a-z0-9-]{0,62}$/;

function port(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw invalid(`${what} must be a port (1 to 65535)`);
  return v;
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || !NAME.test(v)) throw invalid(`${what} must be a lowercase name (letters, digits, "-"), as it names a process and a container`);
  return v;
}

export function parseCluster(text: string, file: string): Cluster {
  const what = file.split('/').pop()!;
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalid(`${what} is not valid YAML: ${(err as Error).message}`);
  }
  const top = checkKeys(doc, what, ['origin', 'log', 'witnesses', 'witnessing', 'gateway']);
  if (typeof top.origin !== 'string' || top.origin === '') throw invalid(`${what} origin must be a non-empty string (the log's origin)`);
  const log = checkKeys(top.log, `${what} log`, ['http', 'grpc', 'config']);
  const config = log.config === undefined ? {} : checkKeys(log.config, `${what} log.config`, Object.keys(FIELDS));
  for (const k of CLUSTER_SET) if (k in config) throw invalid(`${what} log.config.${k} is set by the cluster itself; remove it`);
  if (!Array.isArray(top.witnesses) || top.witnesses.length === 0) throw invalid(`${what} witnesses must be a non-empty list`);
  const witnesses = top.witnesses.map((w, i) => {
    const o = checkKeys(w, `${what} witnesses[${i}]`, ['name', 'http']);
    return { name: name(o.name, `${what} witnesses[${i}].name`), http: port(o.http, `${what} witnesses[${i}].http`) };
  });
  const witnessing = top.witnessing === undefined ? {} : checkKeys(top.witnessing, `${what} witnessing`, ['groups', 'quorum', 'publish', 'timeoutMs', 'ackTimeoutMs', 'retryMs', 'maxRetryMs']);
  const gw = checkKeys(top.gateway, `${what} gateway`, ['producer', 'tenant', 'eventsPerSecond']);
  const rate = gw.eventsPerSecond ?? 20;
  if (typeof rate !== 'number' || !(rate > 0 && rate <= 10_000)) throw invalid(`${what} gateway.eventsPerSecond must be a number above 0, at most 10000`);
  if (typeof gw.tenant !== 'string' || gw.tenant === '') throw invalid(`${what} gateway.tenant must be a non-empty string`);
  const cluster: Cluster = {
    file,
    origin: top.origin,
    log: { http: port(log.http, `${what} log.http`), grpc: port(log.grpc, `${what} log.grpc`), config },
    witnesses,
    witnessing,
    gateway: { producer: name(gw.producer, `${what} gateway.producer`), tenant: gw.tenant, eventsPerSecond: rate },
  };
  const names = ['log', cluster.gateway.producer, ...witnesses.map((w) => w.name)];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw invalid(`${what}: the name "${dup}" is used twice (process names must be distinct, and "log" is the log's)`);
  const ports = [cluster.log.http, cluster.log.grpc, ...witnesses.map((w) => w.http)];
  const dupPort = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dupPort) throw invalid(`${what}: port ${dupPort} is used twice`);
  return cluster;
}

export function readCluster(file: string): Cluster {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CandorError('invalid_argument', `cannot read cluster file ${file}: ${(err as Error).message}`);
  }
  return parseCluster(text, resolve(file));
}

/** Where each process keeps its files, under the cluster's data directory. */
export const paths = (data: string, c: Cluster) => ({
  log: join(data, 'log'),
  logConfig: join(data, 'log', 'candor.yaml'),
  logVkey: join(data, 'log', 'log.vkey'),
  witness: (w: string) => join(data, w),
  gateway: join(data, c.gateway.producer),
  gatewayToken: join(data, c.gateway.producer, 'token'),
  gatewayKey: join(data, c.gateway.producer, 'producer.key'),
  /** The token of the demo's reader of the whole log (read-log), for `candor audit`. */
  auditorToken: join(data, 'auditor.token'),
});

export interface Addresses {
  /** Listen address of each process (HOST:PORT), and how the others reach it. */
  listen(name: string, port: number): string;
  reach(name: string, port: number): string;
}

export function addresses(network: Network): Addresses {
  return network === 'loopback'
    ? { listen: (_n, p) => `127.0.0.1:${p}`, reach: (_n, p) => `127.0.0.1:${p}` }
    : { listen: (_n, p) => `0.0.0.0:${p}`, reach: (n, p) => `${n}:${p}` };
}

export interface PlannedProcess {
  name: string;
  kind: 'witness' | 'log' | 'gateway';
  /** Arguments of the candor command (after `candor`). */
  args: string[];
}

/**
 * The commands that run the cluster, in start order: witnesses, the log, the gateway. `data` and
 * `clusterFile` are as the processes see them (container paths under compose).
 */
export function clusterPlan(c: Cluster, o: { data: string; clusterFile: string; network: Network }): PlannedProcess[] {
  const p = paths(o.data, c);
  const a = addresses(o.network);
  return [
    ...c.witnesses.map((w): PlannedProcess => ({ name: w.name, kind: 'witness', args: ['witness', 'serve', '--data', p.witness(w.name), '--http', a.listen(w.name, w.http)] })),
    { name: 'log', kind: 'log', args: ['serve', '--config', p.logConfig] },
    {
      name: c.gateway.producer,
      kind: 'gateway',
      args: ['cluster', 'demo-gateway', '--config', o.clusterFile, '--data', o.data, '--grpc', a.reach('log', c.log.grpc)],
    },
  ];
}
