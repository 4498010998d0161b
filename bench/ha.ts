/**
 * High availability on the cloud driver (issue 17 §4, §6): three real `candor serve` processes on
 * one bucket + PostgreSQL (loopback Ceph RGW + PostgreSQL from `npm run services -- up`), HTTP
 * writers posting events to any node (followers forward to the leader), and the leader SIGKILLed
 * again and again. `failover` returns what the writers were acknowledged and the takeover times
 * (from the kill to the first acknowledgement after it); `checkHistory` checks everything
 * acknowledged against the final checkpoint. test/ha/failover.test.ts asserts on them; this file's
 * main measures takeover time. Opt-in:
 * `npm run services -- up && (set -a; . .services/env; npm run bench -- ha)`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fromBinary, toJson } from '@bufbuild/protobuf';
import { PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { openCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { TILE_WIDTH } from '@candor/core/tile';
import { TileClient, treeHashFromTiles } from '../clients/tiles/client.js';
import { parseVerifierKey } from '@candor/core/note';
import { EventSchema } from '@candor/schema/gen/candor/v1/event_pb';
import { isEventLeaf, parseEventLeaf } from '@candor/schema/leaf';
import { REGISTRY_FILE } from '../src/producers/registry.js';
import { CloudStore } from '../src/storage/cloud/store.js';
import { cloudOptions } from '../test/helpers/cloud.js';
import { registerProducers, sampleEvent } from '../test/grpc/helpers.js';
import { CLI, spawnServing, tempDir, type ServingProcess } from '../test/helpers/server.js';
import { fmt, headline, meta, otherLoad, quantile, saveResult, writeSection, type ResultMeta } from './lib.js';

export interface FailoverOptions {
  kills: number;
  /** Lease duration of the nodes (storage.leaseMs). */
  leaseMs?: number;
  /** Times the leader is paused (SIGSTOP) until another node leads, then resumed. */
  stops?: number;
  /** Load between kills, ms. */
  settleMs?: number;
  writers?: number;
  /** Extra environment for the nodes (the negative control turns fencing off). */
  env?: NodeJS.ProcessEnv;
}

export interface Acked {
  key: string;
  index: number;
  leafHash: string;
  size: number;
  /** performance.now() when the acknowledgement arrived. */
  at: number;
}

export interface FailoverRun {
  dir: string;
  bucket: { name: string; endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  vkey: string;
  urls: string[];
  acked: Acked[];
  /** Every checkpoint note a writer was given. */
  checkpoints: string[];
  takeoverMs: number[];
  kills: number;
  stops: number;
  /** Writes answered with an error and retried (503 during takeover, refused connections). */
  retries: number;
  nodes: ServingProcess[];
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r, j) => srv.once('error', j).listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The node whose /readyz says it leads (other than `not`), polled until one does. */
async function findLeader(urls: readonly string[], not = -1, timeoutMs = 20_000): Promise<number> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    for (let i = 0; i < urls.length; i++) {
      if (i === not) continue;
      const r = await fetch(`${urls[i]}/readyz`, { signal: AbortSignal.timeout(1000) }).then((res) => res.json() as Promise<{ role?: string; status?: string }>, () => undefined);
      if (r?.role === 'leader' && r.status === 'ready') return i;
    }
    await sleep(100);
  }
  throw new Error('no node became leader');
}

/** Runs three nodes under load and kills the leader `kills` times. The caller stops the nodes (stopAll). */
export async function failover(o: FailoverOptions): Promise<FailoverRun> {
  const storeOptions = cloudOptions();
  await CloudStore.open(storeOptions).then((s) => s.close()); // the bucket and the schema
  const { credentials, createBucket: _, ...storage } = storeOptions;
  const dir = tempDir('candor-ha-');
  const keyFile = join(dir, 'log.key');
  const keygen = spawnSync(process.execPath, [CLI, 'keygen', '--origin', 'ha.candor.test/log', '--out', keyFile], { encoding: 'utf8' });
  if (keygen.status !== 0) throw new Error(`keygen: ${keygen.stderr}`);
  const vkey = /verifier key: (\S+)/.exec(keygen.stdout + keygen.stderr)![1]!;
  // Every node holds the signing key and the same producer registry.
  const dirs = [0, 1, 2].map((i) => join(dir, `node${i}`));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  const token = registerProducers(dirs[0]!, [{ id: 'gw-ha', types: ['*'] }])['gw-ha']!.token;
  for (const d of dirs.slice(1)) copyFileSync(join(dirs[0]!, REGISTRY_FILE), join(d, REGISTRY_FILE));
  const ports = await Promise.all(dirs.map(() => freePort()));
  const env = {
    AWS_ACCESS_KEY_ID: credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials!.secretAccessKey,
    CANDOR_STORAGE: JSON.stringify({ driver: 'cloud', ...storage, leaseMs: o.leaseMs ?? 1000 }),
    CANDOR_INDEXES: 'false',
    CANDOR_LOG_LEVEL: 'warn',
    ...o.env,
  };
  const start = (i: number) =>
    spawnServing(['serve', '--data', dirs[i]!, '--http', `127.0.0.1:${ports[i]}`, '--key', keyFile, '--public-entries', '--batch-max-delay-ms', '2'], { env, what: `node ${i}` });
  const nodes: ServingProcess[] = [];
  for (let i = 0; i < 3; i++) nodes.push(await start(i));
  const urls = nodes.map((n) => n.url);
  const run: FailoverRun = { dir, bucket: { name: storeOptions.bucket, endpoint: storeOptions.endpoint!, region: storeOptions.region, credentials: credentials! }, vkey, urls, acked: [], checkpoints: [], takeoverMs: [], kills: 0, stops: 0, retries: 0, nodes };

  // Writers: one event per request to a random node; an error is retried with the same event (so
  // the same idempotency key) on another node until acknowledged.
  let stop = false;
  const db = new pg.Client({ connectionString: storeOptions.postgres });
  await db.connect();
  let serial = 0;
  const writer = async (w: number) => {
    while (!stop) {
      const ev = sampleEvent({ producerEventId: `w${w}-${serial++}` });
      const body = JSON.stringify({ eventMessages: [toJson(EventSchema, ev)] });
      for (let attempt = 0; !stop || attempt > 0; attempt++) {
        const url = urls[Math.floor(Math.random() * urls.length)]!;
        const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body, signal: AbortSignal.timeout(3000) }).catch(() => undefined);
        if (res?.status === 200) {
          const j = (await res.json()) as { checkpoint: string; acks: { index: string; leafHash: string }[] };
          const size = Number(j.checkpoint.split('\n')[1]);
          run.acked.push({ key: ev.producerEventId, index: Number(j.acks[0]!.index), leafHash: j.acks[0]!.leafHash, size, at: performance.now() });
          run.checkpoints.push(j.checkpoint);
          break;
        }
        await res?.arrayBuffer().catch(() => undefined);
        run.retries++;
        if (attempt > 200) throw new Error(`event ${ev.producerEventId} never acknowledged: ${res?.status}`);
        await sleep(50);
      }
    }
  };
  const writers = Array.from({ length: o.writers ?? 8 }, (_, w) => writer(w));
  try {
    for (let k = 0; k < o.kills; k++) {
      await sleep(o.settleMs ?? 1500);
      const leader = await findLeader(urls);
      const killedAt = performance.now();
      await nodes[leader]!.kill();
      run.kills++;
      // The new leader's first acknowledgement: the first for a tree larger than the dead leader
      // committed (an answer the dead leader gave before dying may still arrive, relayed).
      const dead = Number((await db.query<{ note: string }>(`SELECT note FROM ${storeOptions.schema}.checkpoint`)).rows[0]!.note.split('\n')[1]);
      const until = performance.now() + 30_000;
      const firstAfter = () => run.acked.find((a) => a.size > dead && a.at > killedAt);
      while (!firstAfter() && performance.now() < until) await sleep(10);
      const first = firstAfter();
      if (!first) throw new Error(`no acknowledgement within 30 s of killing the leader (kill ${k + 1})`);
      run.takeoverMs.push(first.at - killedAt);
      // The killed node comes back (same data directory and port) and follows.
      nodes[leader] = await start(leader);
    }
    // A leader paused past its lease (SIGSTOP), replaced, then resumed: it must not sign again.
    for (let k = 0; k < (o.stops ?? 0); k++) {
      await sleep(o.settleMs ?? 1500);
      const leader = await findLeader(urls);
      nodes[leader]!.proc.kill('SIGSTOP');
      await findLeader(urls, leader);
      await sleep(o.settleMs ?? 1500);
      nodes[leader]!.proc.kill('SIGCONT');
      run.stops++;
    }
    await sleep(o.settleMs ?? 1500);
  } finally {
    stop = true;
    await Promise.allSettled(writers);
    await db.end();
  }
  const failed = await Promise.allSettled(writers);
  for (const f of failed) if (f.status === 'rejected') throw f.reason;
  return run;
}

export async function stopAll(run: FailoverRun): Promise<void> {
  for (const n of run.nodes) n.proc.kill('SIGCONT');
  await Promise.all(run.nodes.map((n) => n.kill()));
  rmSync(run.dir, { recursive: true, force: true });
}

export interface HistoryCheck {
  size: number;
  /** Problems found; empty when the history is sound. */
  problems: string[];
}

/** RFC 9162 MTH of leaf hashes [lo, hi). */
function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return leaves[lo]!;
  let k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return portableHasher.node(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/**
 * The checker, on what outlives every node: the bucket, read anonymously as any tlog-tiles client
 * would (the test makes it public). The final checkpoint must be signed and its hash tiles give its
 * root; every acknowledged event must be at its acknowledged index in the bucket's entries, which
 * must give the final root (so its acknowledged proof holds under the final checkpoint); every
 * checkpoint a writer was given must be the root of the first `size` of those entries (consistent
 * with the final one, and two of one size agree); no idempotency key may be in two leaves.
 */
export async function checkHistory(run: FailoverRun): Promise<HistoryCheck> {
  const verifiers = [parseVerifierKey(run.vkey)];
  const s3 = new S3Client({ endpoint: run.bucket.endpoint, region: run.bucket.region, credentials: run.bucket.credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  try {
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: run.bucket.name,
        Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${run.bucket.name}/*`] }] }),
      }),
    );
  } finally {
    s3.destroy();
  }
  const client = new TileClient(`${run.bucket.endpoint}/${run.bucket.name}`);
  const final = openCheckpoint(await client.checkpoint(), verifiers).checkpoint;
  const problems: string[] = [];
  const tilesRoot = await treeHashFromTiles(portableHasher, final.size, client).catch((err: Error) => err);
  if (tilesRoot instanceof Error || Buffer.compare(tilesRoot, final.root) !== 0) {
    problems.push(`the bucket's hash tiles do not give the root of its checkpoint (size ${final.size})${tilesRoot instanceof Error ? `: ${tilesRoot.message}` : ''}`);
  }
  const leaves: Uint8Array[] = [];
  const keys = new Map<string, number>();
  for (let bundle = 0; bundle * TILE_WIDTH < final.size; bundle++) {
    const width = Math.min(TILE_WIDTH, final.size - bundle * TILE_WIDTH);
    for (const data of await client.entryBundle(bundle, width)) {
      const index = leaves.length;
      leaves.push(portableHasher.leaf(data));
      if (!isEventLeaf(data)) continue;
      const leaf = parseEventLeaf(data);
      const ev = fromBinary(EventSchema, leaf.event);
      const key = `${ev.tenantId}/${leaf.producer}/${ev.producerEventId}`;
      const first = keys.get(key);
      if (first !== undefined) problems.push(`idempotency key ${key} produced two leaves: ${first} and ${index}`);
      else keys.set(key, index);
    }
  }
  if (final.size > 0 && Buffer.compare(mth(leaves, 0, final.size), final.root) !== 0) problems.push(`the bucket's entries do not give the root of its checkpoint (size ${final.size})`);
  for (const a of run.acked) {
    if (a.index >= final.size) problems.push(`event ${a.key} acknowledged at index ${a.index}, beyond the final size ${final.size}`);
    else if (Buffer.from(leaves[a.index]!).toString('base64') !== a.leafHash) problems.push(`event ${a.key} acknowledged at index ${a.index}, but the final tree has another leaf there`);
  }
  const bySize = new Map<number, string>();
  for (const note of new Set(run.checkpoints)) {
    let cp;
    try {
      cp = openCheckpoint(note, verifiers).checkpoint;
    } catch (err) {
      problems.push(`a checkpoint given to a writer does not verify: ${(err as Error).message}`);
      continue;
    }
    const root = Buffer.from(cp.root).toString('base64');
    if (bySize.has(cp.size) && bySize.get(cp.size) !== root) problems.push(`two checkpoints of size ${cp.size} with different roots: the log signed two histories`);
    bySize.set(cp.size, root);
    if (cp.size > final.size) problems.push(`a writer was given a checkpoint of size ${cp.size}, larger than the final ${final.size}`);
    else if (cp.size > 0 && Buffer.from(mth(leaves, 0, cp.size)).toString('base64') !== root) problems.push(`the checkpoint of size ${cp.size} a writer was given is not consistent with the final one (size ${final.size})`);
  }
  return { size: final.size, problems };
}

export interface HaData extends ResultMeta {
  kills: number;
  leaseMs: number;
  takeoverMs: number[];
  p50ms: number;
  acknowledged: number;
  retries: number;
  problems: number;
}

export function haSection(d: HaData): string {
  return `${headline(d, `three \`candor serve\` processes on one bucket + PostgreSQL (loopback Ceph RGW 16 + PostgreSQL 15), 8 HTTP writers posting to random nodes, the leader SIGKILLed ${d.kills} times, lease ${d.leaseMs} ms`)}

| | |
|---|---:|
| takeover, leader's SIGKILL to the first acknowledgement after it: p50 | ${fmt(d.p50ms)} ms |
| every run (ms) | ${d.takeoverMs.map((t) => fmt(t)).join(', ')} |
| ceiling: the lease (a dead leader's lease must run out first) | ${d.leaseMs} ms |
| p50 as a multiple of the lease | ${(d.p50ms / d.leaseMs).toFixed(2)} |
| events acknowledged, all checked under the final checkpoint | ${d.acknowledged} (problems: ${d.problems}) |
| writes retried (503 or refused while no node led) | ${d.retries} |

A takeover is: the lease runs out (at most leaseMs after the leader's last renewal), a follower's next poll (every leaseMs/5) takes it, and the node restarts its log as leader: opening the store (republishing a staged batch), the checks of a start-up, and the idempotency index's replay of the leaves committed since it last led.`;
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const leaseMs = Number(process.env.BENCH_HA_LEASE_MS ?? 2000);
  const kills = Number(process.env.BENCH_HA_KILLS ?? 5);
  const run = await failover({ kills, leaseMs, settleMs: 2000 });
  let check: HistoryCheck;
  try {
    check = await checkHistory(run);
  } finally {
    await stopAll(run);
  }
  const sorted = [...run.takeoverMs].sort((a, b) => a - b);
  const data: HaData = {
    ...meta('ha', 'npm run services -- up && (set -a; . .services/env; npm run bench -- ha)', before, await otherLoad()),
    kills: run.kills,
    leaseMs,
    takeoverMs: run.takeoverMs,
    p50ms: quantile(sorted, 0.5),
    acknowledged: run.acked.length,
    retries: run.retries,
    problems: check.problems.length,
  };
  saveResult('ha', data);
  writeSection('High availability: takeover', haSection(data));
  console.log(haSection(data));
  if (check.problems.length) console.log(check.problems.slice(0, 10).join('\n'));
}
