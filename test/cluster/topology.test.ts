// The cluster file and the compose file: compose runs exactly the commands `candor cluster up`
// runs, and a bad cluster file is refused with its key named.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clusterPlan, parseCluster, readCluster } from '../../src/cluster/topology.js';

const CLUSTER_FILE = fileURLToPath(new URL('../../docker/cluster.yaml', import.meta.url));
const COMPOSE_FILE = fileURLToPath(new URL('../../docker/compose.yaml', import.meta.url));

describe('docker/compose.yaml', () => {
  const compose = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, { command: string[]; volumes?: string[] }> };
  const cluster = readCluster(CLUSTER_FILE);

  it('runs every process of the cluster plan, with the same command, in containers', () => {
    const plan = clusterPlan(cluster, { data: '/data', clusterFile: '/etc/candor/cluster.yaml', network: 'compose' });
    expect(plan.map((p) => p.name)).toEqual(['witness-a', 'witness-b', 'log', 'demo-gateway']);
    for (const p of plan) expect(compose.services[p.name]?.command, p.name).toEqual(p.args);
    expect(compose.services.init!.command).toEqual(['cluster', 'init', '--config', '/etc/candor/cluster.yaml', '--data', '/data', '--network', 'compose']);
    for (const p of plan) expect(compose.services[p.name]!.volumes).toEqual(['data:/data', './cluster.yaml:/etc/candor/cluster.yaml:ro']);
  });

  it('reaches processes by service name under compose and by 127.0.0.1 on loopback', () => {
    const loop = clusterPlan(cluster, { data: '/d', clusterFile: '/c.yaml', network: 'loopback' });
    expect(loop[0]!.args).toEqual(['witness', 'serve', '--data', '/d/witness-a', '--http', '127.0.0.1:7380']);
    expect(loop[3]!.args.slice(-2)).toEqual(['--grpc', '127.0.0.1:8081']);
  });
});

describe('cluster file', () => {
  const good = readFileSync(CLUSTER_FILE, 'utf8');
  const bad = (text: string) => () => parseCluster(text, '/x/cluster.yaml');

  it('names the bad key', () => {
    expect(bad(good.replace('http: 7381', 'http: 70000'))).toThrow(/cluster\.yaml witnesses\[1\]\.http must be a port/);
    expect(bad(good.replace('name: witness-b', 'name: Witness B'))).toThrow(/witnesses\[1\]\.name must be a lowercase name/);
    expect(bad(good.replace('name: witness-b', 'name: witness-a'))).toThrow(/"witness-a" is used twice/);
    expect(bad(good.replace('http: 7381', 'http: 8080'))).toThrow(/port 8080 is used twice/);
    expect(bad(good.replace('batchMaxDelayMs: 2', 'batchMaxDelay: 2'))).toThrow(/log\.config\.batchMaxDelay is not a known key/);
    expect(bad(good.replace('batchMaxDelayMs: 2', 'data: /elsewhere'))).toThrow(/log\.config\.data is set by the cluster itself/);
    expect(bad(good.replace('eventsPerSecond: 20', 'eventsPerSecond: 0'))).toThrow(/gateway\.eventsPerSecond must be a number above 0/);
    expect(bad(`${good}\nextra: 1\n`)).toThrow(/cluster\.yaml\.extra is not a known key/);
  });
});
