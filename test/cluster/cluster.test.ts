// `candor cluster up` (what `npm run cluster` runs) end to end: the processes of docker/cluster.yaml
// on loopback, a steady stream of gateway events, checkpoints cosigned by both witnesses, an
// auditor that verifies everything, the metrics the Grafana dashboard queries, and a clean stop.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers/server.js';

const run = promisify(execFile);
const CLUSTER_FILE = fileURLToPath(new URL('../../docker/cluster.yaml', import.meta.url));
const DASHBOARD = fileURLToPath(new URL('../../docker/grafana/candor.json', import.meta.url));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Metric names a PromQL expression uses (candor_*), with histogram suffixes removed. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(candor_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

describe('npm run cluster', () => {
  const data = tempDir('candor-cluster-');
  const proc = spawn(process.execPath, [CLI, 'cluster', 'up', '--config', CLUSTER_FILE, '--data', data, '--any-ports'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  afterAll(() => {
    // After a failure: the cluster's processes have their own process group, so end each one.
    for (const m of out.matchAll(/started \S+ \(pid (\d+)\)/g)) {
      try {
        process.kill(Number(m[1]), 'SIGKILL');
      } catch {
        // already exited
      }
    }
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });

  it('runs a log, two witnesses and a gateway; both witnesses cosign; an auditor verifies; all stop', { timeout: 180_000 }, async () => {
    const logUrl = await until('the cluster to start', 90_000, async () => /is up[\s\S]*?log\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1]);
    const pids = [...out.matchAll(/started (\S+) \(pid (\d+)\)/g)].map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
    expect(pids.map((p) => p.name)).toEqual(['witness-a', 'witness-b', 'log', 'demo-gateway']);

    // Events flow in, and /checkpoint (publish: after) serves checkpoints cosigned by both witnesses.
    const note = await until('40 events in a checkpoint cosigned by both witnesses', 90_000, async () => {
      const text = await (await fetch(`${logUrl}/checkpoint`)).text();
      const size = Number(text.split('\n')[1]);
      return size >= 40 && /^— witness-a /m.test(text) && /^— witness-b /m.test(text) ? text : undefined;
    });
    expect(note.split('\n')[0]).toBe('demo.candor.dev/audit');

    // The auditor trusts the log key and the policy (both witnesses), and recomputes every hash.
    const logKey = readFileSync(join(data, 'log', 'log.vkey'), 'utf8').trim();
    const policy = join(data, 'log', 'candor.yaml');
    const auditor = join(data, 'auditor');
    const token = readFileSync(join(data, 'auditor.token'), 'utf8').trim();
    const audit = await run(process.execPath, [CLI, 'audit', '--url', logUrl, '--data', auditor, '--log-key', logKey, '--policy', policy, '--no-progress', '--token', token]);
    expect(audit.stdout).toMatch(/cosigned by witness-a, witness-b \(policy: 2 of 2 witnesses\)/);
    expect(audit.stdout).toMatch(/audit OK: all \d+ entries/);
    // Later, the monitor proves the grown log consistent with what was audited.
    await until('the log to grow past the audited checkpoint', 60_000, async () => {
      const size = Number((await (await fetch(`${logUrl}/checkpoint`)).text()).split('\n')[1]);
      return size > Number(note.split('\n')[1]) ? size : undefined;
    });
    const monitor = await run(process.execPath, [CLI, 'monitor', '--once', '--url', logUrl, '--data', auditor, '--log-key', logKey, '--policy', policy]);
    expect(monitor.stdout).toMatch(/^OK size \d+ .*: consistent with size \d+; cosigned by witness-a, witness-b/);

    // Every stage is measured, and every metric the Grafana dashboard queries exists.
    const metrics = await (await fetch(`${logUrl}/metrics`)).text();
    expect(metrics).toMatch(/^candor_events_ingested_total\{producer="demo-gateway"\} [1-9]/m);
    expect(metrics).toMatch(/^candor_witness_requests_total\{witness="witness-a",status="200"\} [1-9]/m);
    expect(metrics).toMatch(/^candor_witness_requests_total\{witness="witness-b",status="200"\} [1-9]/m);
    expect(metrics).toMatch(/^candor_commit_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^candor_sign_seconds_count [1-9]/m);
    expect(metrics).toMatch(/^candor_proofs_served_total\{kind="consistency"\} [1-9]/m);
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
    const queried = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))));
    expect(queried.size).toBeGreaterThan(10);
    const exported = new Set([...metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    expect([...queried].filter((m) => !exported.has(m))).toEqual([]);

    // Secrets are files; no process printed them. A key file is PRIVATE+KEY+name+hash+base64, and
    // the base64 may itself hold '+': its last '+'-part can be a few characters, or empty.
    const seed = (file: string) => readFileSync(file, 'utf8').trim().split('+').slice(4).join('+');
    const secrets = [
      seed(join(data, 'log', 'log.key')),
      readFileSync(join(data, 'demo-gateway', 'token'), 'utf8').trim(),
      seed(join(data, 'demo-gateway', 'producer.key')),
      ...['witness-a', 'witness-b'].map((w) => seed(join(data, w, 'witness.key'))),
    ];
    for (const s of secrets) expect(out).not.toContain(s);

    // Ctrl-C stops every process, gateway first, and the supervisor exits cleanly.
    proc.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/cluster: demo-gateway \(pid \d+\) stopped[\s\S]*cluster: log \(pid \d+\) stopped[\s\S]*cluster: witness-a \(pid \d+\) stopped/);
    for (const { pid } of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
