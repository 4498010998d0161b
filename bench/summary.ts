/**
 * The top of RESULTS.md, from the other scenarios' JSON in bench/results/ (it measures nothing):
 * every goal of the dashboard with the figure that decides it, met or missed, and for a missed
 * one where the time goes; then the anchors' published figures, with their conditions, beside ours
 * as a ratio. `npm run bench` runs it last; `npm run bench -- summary` redraws it alone.
 */
import { renderCharts } from './charts.js';
import type { DurabilityData } from './durability.js';
import type { GoData } from './gotlog.js';
import type { GrpcData } from './grpc.js';
import { GOAL_MS, halfLoadAck, type GrpcLatencyData } from './grpc-latency.js';
import { PIPELINED_TILES, addRatio, durableRatios, type HttpData } from './http.js';
import { bestIntegration, GOAL as INTEGRATION_GOAL, way, type IntegrationData } from './integration.js';
import { halfLoadP99, serverText, type LatencyData } from './latency.js';
import { fmt, loadResult, median, ms, resultNames, saveResult, writeSection, type ResultMeta } from './lib.js';
import type { ProfileData, ProfileSummary } from './profile.js';
import { TILE_FLOOR, type ScaleData, type ScaleRow } from './scale.js';

/** The gRPC ingest goal, which more than one paragraph needs. */
const GRPC_GOAL = 150_000;

export interface Goal {
  goal: string;
  /** Short label for the plot. */
  short: string;
  measured: string;
  met?: boolean;
  /** Measured ÷ goal, oriented so that ≥ 1 means met. */
  score?: number;
  where: string;
  why?: string;
}

export interface SummaryData {
  date: string;
  goals: Goal[];
}

function profileLine(p: ProfileSummary | undefined): string {
  if (!p) return 'no profile recorded (`npm run bench -- profile`)';
  const areas = p.areas.slice(0, 5).map((a) => `${a.area} ${fmt(a.share * 100, 0)}%`);
  const fns = p.functions.slice(0, 4).map((f) => `\`${f.fn}\` ${fmt(f.share * 100, 1)}%`);
  return `the server's main thread under \`${p.name}\` (see [Profiles](#profiles)): ${areas.join(', ')}; top functions ${fns.join(', ')}`;
}

function grpcWhy(g: GrpcData): string {
  const integ = loadResult<IntegrationData>('integration');
  const best = integ ? bestIntegration(integ).rate : undefined;
  const rows = (g.rows ?? []).map((r) => ({ b: r.batch, raw: median(r.raw.map((x) => x.eventsPerSec)), noop: median(r.noop.map((x) => x.eventsPerSec)) }));
  const top = [...rows].sort((a, b) => b.raw - a.raw)[0];
  const noop = [...rows].sort((a, b) => b.noop - a.noop)[0];
  const server = `The server alone takes ${top ? `${fmt(top.raw)} events/s from a raw client at batch ${fmt(top.b)}` : 'no measurement'}${best ? `, and the Sequencer in-process integrates at most ${fmt(best)} entries/s without any transport (see [In-process integration](#in-process-integration))` : ''}; the SDK's own work (building, encoding and verifying each receipt) shares the same 2 cores.`;
  const main = integ?.phases.filter((p) => p.thread === 'main').reduce((a, p) => a + p.micros, 0);
  if (!noop || main === undefined) return server;
  // Transport alone: a server that does nothing but decode and answer, fed pre-encoded requests.
  const left = 1 - GRPC_GOAL / noop.noop;
  return `${server} On this machine the goal is out of reach whatever the server does: a no-op grpc-js server, fed pre-encoded requests by the raw client, peaks at ${fmt(noop.noop)} events/s (batch ${fmt(noop.b)}) with both cores busy, so at ${fmt(GRPC_GOAL)} events/s transport alone would take ${fmt((1 - left) * 100)}% of the machine and leave ${fmt(left * 100)}% (${fmt((left * 2e6) / GRPC_GOAL, 1)} µs of CPU per event) for the SDK and the log together, while the log's main thread alone spends ${fmt(main, 2)} µs per entry in-process (bench/phases.ts), before any event is decoded, validated or indexed`;
}

/** Why POST /add stays under the bare handler: waiting on commits, or CPU, by the profile. */
function addWhy(p: ProfileSummary | undefined, lat: LatencyData | undefined, http: HttpData | undefined): string {
  const idle = p?.areas.find((a) => a.area.startsWith('(idle'))?.share;
  const parts: string[] = [];
  const durable = http?.add && durableRatios(http.add);
  if (durable) {
    parts.push(
      `${durable.ofBare < 0.6 ? 'On this machine the goal is beyond what waiting for a synced write leaves: ' : ''}the bare handler answering after nothing but a synced group commit of the bodies (the least a log that acknowledges only durable entries must do) reaches ${fmt(durable.ofBare * 100, 1)}% of the bare one ([HTTP](#http)), and Candor reaches ${fmt(durable.candorOfDurable * 100, 1)}% of that durable handler.`,
    );
  }
  if (idle !== undefined) {
    parts.push(
      `At 64 connections the server's main thread is idle ${fmt(idle * 100, 0)}% of the time: each request waits for its batch's synced commit, so the closed-loop rate is bounded by 64 ÷ the commit latency as much as by CPU.`,
    );
  }
  if (lat) parts.push(`Open-loop with up to ${lat.connections} connections the peak is higher (${fmt(median(lat.peak))} req/s, [Latency](#latency)).`);
  return parts.join(' ');
}

function goals(): Goal[] {
  const http = loadResult<HttpData>('http');
  const lat = loadResult<LatencyData>('latency');
  const scale = loadResult<ScaleData>('scale');
  const go = loadResult<GoData>('gotlog');
  const integ = loadResult<IntegrationData>('integration');
  const grpc = loadResult<GrpcData>('grpc');
  const prof = loadResult<ProfileData>('profile');
  const addProfile = prof?.profiles.find((p) => p.name.startsWith('POST /add'));
  const proofProfile = prof?.profiles.find((p) => p.name.startsWith('GET /proof'));
  const out: Goal[] = [];

  if (grpc?.result) {
    const r = grpc.result;
    const raw = grpc.rows?.find((x) => x.batch === r.batch);
    const rawRate = raw ? median(raw.raw.map((x) => x.eventsPerSec)) : undefined;
    out.push({
      goal: 'durable ingest over gRPC ≥ 150,000 events/s',
      short: 'gRPC ingest ≥ 150k/s',
      measured: `${fmt(r.best)} events/s through the gateway SDK at batch ${fmt(r.batch)}${rawRate ? ` (${fmt(rawRate)} from a raw client)` : ''}`,
      met: r.best >= GRPC_GOAL,
      score: r.best / GRPC_GOAL,
      where: '[gRPC ingest](#grpc-ingest)',
      ...(r.best < GRPC_GOAL ? { why: grpcWhy(grpc) } : {}),
    });
  } else {
    out.push({ goal: 'durable ingest over gRPC ≥ 150,000 events/s', short: 'gRPC ingest', measured: 'pending', where: '[gRPC ingest](#grpc-ingest)', why: `Not measured: ${grpc?.pending ?? 'the scenario has not run'}` });
  }

  const grpcLat = loadResult<GrpcLatencyData>('grpc-latency');
  if (grpcLat?.rows.length) {
    const h = halfLoadAck(grpcLat);
    const lost = grpcLat.rows.reduce((a, r) => a + r.half.failed + r.half.unanswered, 0);
    const met = h.p99 < GOAL_MS && lost === 0;
    out.push({
      goal: `p99 acknowledgement (with proof) over gRPC < ${GOAL_MS} ms at half of peak load`,
      short: `gRPC p99 < ${GOAL_MS} ms at half load`,
      measured: `${ms(h.p99)} ms at ${fmt(h.rate)} events/s through the SDK (peak ${fmt(h.peak)}; no-op grpc-js server ${fmt(h.noop)})${lost ? `, ${lost} lost` : ''}`,
      met,
      score: GOAL_MS / h.p99,
      where: '[gRPC acknowledgement latency](#grpc-acknowledgement-latency)',
      ...(met ? {} : { why: `At half of the SDK's peak on this shared machine; see [gRPC ingest](#grpc-ingest) for where the time goes` }),
    });
  }

  const ratio = http && addRatio(http);
  if (ratio !== undefined) {
    out.push({
      goal: 'HTTP `POST /add` ≥ 60% of bare fastify',
      short: 'POST /add ≥ 60% of bare',
      measured: `${fmt(ratio * 100, 1)}% (${fmt(median(http!.add!.candor.map((x) => x.rps)))} of ${fmt(median(http!.add!.bare.map((x) => x.rps)))} req/s)`,
      met: ratio >= 0.6,
      score: ratio / 0.6,
      where: '[HTTP](#http)',
      ...(ratio < 0.6 ? { why: `${addWhy(addProfile, lat, http)} Profile of ${profileLine(addProfile)}` } : {}),
    });
  }

  // Issue #2's read goals at 1M entries, over HTTP at 64 connections.
  const read = (name: string) => http?.reads?.find((r) => r.name === name);
  const proofs = read('`GET /proof/inclusion`');
  if (proofs) {
    const rps = median(proofs.ours.map((x) => x.rps));
    out.push({
      goal: `\`GET /proof/inclusion\` ≥ 15,000/s on a log of ${fmt(http!.logSize ?? 1_000_000)} entries`,
      short: 'proofs ≥ 15k/s at 1M',
      measured: `${fmt(rps)}/s (bare fastify, same-shape answer: ${fmt(median(proofs.ceiling.map((x) => x.rps)))}/s)`,
      met: rps >= 15_000,
      score: rps / 15_000,
      where: '[HTTP](#http)',
    });
  }
  const tiles = read(PIPELINED_TILES) ?? read('`GET /tile/0/<N>`');
  if (tiles) {
    const rps = median(tiles.ours.map((x) => x.rps));
    const ceiling = median(tiles.ceiling.map((x) => x.rps));
    // Below the goal with a ceiling below it too, the load generator is what was measured.
    const decided = rps >= 25_000 || ceiling >= 25_000;
    out.push({
      goal: 'tile GETs ≥ 25,000/s',
      short: 'tiles ≥ 25k/s',
      measured: `${fmt(rps)}/s${tiles.name === PIPELINED_TILES ? ' through a pipelined client' : ''}, ${fmt((rps / ceiling) * 100, 1)}% of bare fastify serving the same kind of 8 KiB bodies (${fmt(ceiling)}/s)${decided ? '' : ': the load generator is the limit, not the server'}`,
      ...(decided ? { met: rps >= 25_000, score: rps / 25_000 } : {}),
      where: '[HTTP](#http)',
    });
  }

  const half = lat && halfLoadP99(lat);
  if (half) {
    out.push({
      goal: 'p99 submit-to-proof latency < 50 ms at half of peak load',
      short: 'p99 < 50 ms at half load',
      measured: `${ms(half.p99)} ms at ${fmt(half.rate)} req/s (peak ${fmt(median(lat!.peak))} req/s)`,
      met: half.p99 < 50,
      score: 50 / half.p99,
      where: '[Latency](#latency)',
      ...(half.p99 >= 50 ? { why: (serverText(lat!) || 'No server metrics recorded.').replace(/\.$/, '') } : {}),
    });
  }

  const rows = scale?.rows ?? [];
  const base = rows.find((r) => r.size === 1_000_000);
  const big = rows.find((r) => r.size >= 100_000_000);
  const rps = (r: ScaleRow) => median(r.many.map((x) => x.rps));
  const largest = rows.at(-1);
  if (big) {
    out.push({
      goal: 'inclusion proofs ≥ 15,000/s at 100M entries',
      short: 'proofs ≥ 15k/s at 100M',
      measured: `${fmt(rps(big))}/s`,
      met: rps(big) >= 15000,
      score: rps(big) / 15000,
      where: '[Scale](#scale)',
      ...(rps(big) < 15000 ? { why: `Profile of ${profileLine(proofProfile)}` } : {}),
    });
    if (base) {
      // Against the ceiling measured beside each row: the rows may have run under different load.
      const ratio = (r: ScaleRow) => rps(r) / median(r.ceiling.map((x) => x.rps));
      const cost = ratio(base) / ratio(big);
      out.push({
        goal: 'proof cost at 100M < 2× that at 1M',
        short: 'proof cost 100M < 2× 1M',
        measured: `${fmt(cost, 2)}× against the bare-fastify ceiling measured beside each (${fmt(rps(base) / rps(big), 2)}× in raw rates)`,
        met: cost < 2,
        score: 2 / cost,
        where: '[Scale](#scale)',
      });
    }
    const rss = median(big.rss);
    const anon = median(big.anon);
    out.push({
      goal: '100M entries: resident memory < 512 MB',
      short: 'memory < 512 MB at 100M',
      measured: `RSS ${fmt(rss / 2 ** 20)} MiB, of which private ${fmt(anon / 2 ** 20)} MiB`,
      met: rss < 512e6,
      score: 512e6 / rss,
      where: '[Scale](#scale)',
      ...(rss >= 512e6 ? { why: `The resident set counts LevelDB's memory-mapped table files (page cache the kernel may drop); private memory is ${fmt(anon / 2 ** 20)} MiB (${anon < 512e6 ? 'within' : 'over'} the goal)` } : {}),
    });
    const start = median(big.startMs);
    out.push({ goal: '100M entries: restart < 2 s', short: 'restart < 2 s at 100M', measured: `${fmt(start)} ms`, met: start < 2000, score: 2000 / start, where: '[Scale](#scale)' });
    const tiles = big.disk.tiles / big.size;
    out.push({
      goal: '100M entries: Merkle overhead near the 32 B/entry floor of tlog-tiles',
      short: 'Merkle bytes/entry near floor',
      measured: `${fmt(tiles, 2)} B/entry of hash tiles (floor ${fmt(TILE_FLOOR, 2)}; ${fmt(tiles / TILE_FLOOR, 2)}×)`,
      met: tiles / TILE_FLOOR <= 1.2,
      score: (1.2 * TILE_FLOOR) / tiles,
      where: '[Scale](#scale)',
    });
  } else if (largest) {
    out.push({
      goal: 'the 100M goals: proofs ≥ 15,000/s and < 2× the cost at 1M, memory < 512 MB, restart < 2 s, Merkle overhead near 32 B/entry',
      short: '100M goals',
      measured: `not measured (opt-in). At ${fmt(largest.size)}: ${fmt(rps(largest))} proofs/s${base ? ` (${fmt(rps(base) / rps(largest), 2)}× the cost at 1M)` : ''}, RSS ${fmt(median(largest.rss) / 2 ** 20)} MiB (private ${fmt(median(largest.anon) / 2 ** 20)} MiB), restart ${fmt(median(largest.startMs))} ms, hash tiles ${fmt(largest.disk.tiles / largest.size, 2)} B/entry`,
      where: '[Scale](#scale)',
    });
  }

  if (go) {
    const ceiling = go.ours.sha256PerSec / 2;
    const ob = median(go.ours.buildPerSec);
    out.push({
      goal: 'in-process tree building within 2× of the raw hashing ceiling',
      short: 'tree building ≥ ½ hashing ceiling',
      measured: `${fmt(ob)} records/s, ${fmt(ob / ceiling, 2)} of ½ × SHA-256/s (${fmt(ceiling)})`,
      met: ob / ceiling >= 0.5,
      score: ob / ceiling / 0.5,
      where: "[Beside Go's sumdb/tlog](#beside-gos-sumdbtlog)",
    });
    if (go.go) {
      const r = ob / median(go.go.buildPerSec);
      out.push({
        goal: "in-process tree building within 3× of Go's `sumdb/tlog`",
        short: 'tree building ≥ ⅓ of Go',
        measured: `${fmt(r, 2)}× Go's rate (${fmt(ob)} vs ${fmt(median(go.go.buildPerSec))} records/s)`,
        met: r >= 1 / 3,
        score: r * 3,
        where: "[Beside Go's sumdb/tlog](#beside-gos-sumdbtlog)",
      });
    }
  }
  if (integ) {
    const { rate: best, row } = bestIntegration(integ);
    const lookedUp = Math.max(0, ...integ.rows.filter((r) => !r.unique).map((r) => median(r.runs)));
    const ratio = best / integ.ceiling;
    const main = integ.phases.filter((p) => p.thread === 'main').reduce((a, p) => a + p.micros, 0);
    const top = [...integ.phases].filter((p) => p.thread === 'main').sort((a, b) => b.micros - a.micros).slice(0, 3);
    out.push({
      goal: `in-process integration (hash, tile, sign, synced commit, proofs) ≥ ${fmt(INTEGRATION_GOAL)} entries/s`,
      short: `integration ≥ ${fmt(INTEGRATION_GOAL / 1000)}k/s`,
      measured: `${fmt(best)} entries/s at best (max batch ${fmt(row.maxBatch)}, ${way(row)}${row.unique ? ", as event ingestion submits" : ""})${lookedUp ? `; ${fmt(lookedUp)} with the leaf-hash lookup raw \`POST /add\` entries get` : ''}; ${fmt(ratio, 2)} of ½ × the fastest SHA-256/s (${fmt(integ.ceiling)})`,
      met: best >= INTEGRATION_GOAL,
      score: best / INTEGRATION_GOAL,
      where: '[In-process integration](#in-process-integration)',
      ...(best < INTEGRATION_GOAL
        ? { why: `The main thread spends ${fmt(main, 2)} µs per entry (bench/phases.ts), of which ${top.map((p) => `${p.name} ${fmt(p.micros, 2)} µs`).join(', ')}; two SHA-256 cost ${fmt(2e6 / integ.sha256.server, 2)} µs` }
        : {}),
    });
  }
  return out;
}

interface Anchor {
  system: string;
  figure: string;
  conditions: string;
  source: string;
  ours?: string;
  ratio?: string;
}

function anchors(): Anchor[] {
  const http = loadResult<HttpData>('http');
  const lat = loadResult<LatencyData>('latency');
  const integ = loadResult<IntegrationData>('integration');
  const scale = loadResult<ScaleData>('scale');
  const go = loadResult<GoData>('gotlog');
  const dur = loadResult<DurabilityData>('durability');
  const add = http?.add ? median(http.add.candor.map((x) => x.rps)) : undefined;
  const half = lat ? halfLoadP99(lat) : undefined;
  const p50 = half?.p50;
  const integBest = integ ? bestIntegration(integ).rate : undefined;
  const batch1 = dur?.rows.find((r) => r.batch === 1);
  const largest = scale?.rows.at(-1);
  const grpc = loadResult<GrpcData>('grpc');
  const grpcBest = grpc?.rows?.map((x) => ({ batch: x.batch, rate: median(x.raw.map((y) => y.eventsPerSec)) })).sort((a, b) => b.rate - a.rate)[0];
  const r = (ours: number | undefined, theirs: number, digits = 2) => (ours === undefined ? '—' : `${fmt(ours / theirs, digits)}×`);
  const addText = add === undefined ? '—' : `${fmt(add)} durable \`POST /add\`/s (HTTP, dedup on, 64 conn., client on the same 2 cores)`;
  const latText = half && p50 !== undefined ? `p50 ${ms(p50)} ms, p99 ${ms(half.p99)} ms to an acknowledgement with proof, at half of peak load` : '—';
  return [
    { system: 'Tessera (POSIX)', figure: '~10,000 writes/s sustained; time to integrate avg 3.1 s', conditions: 'antispam on, ZFS on NVMe mirror, up to 7 server cores, 30,000 writer workers in the same VM', source: 'transparency-dev/tessera docs/performance.md', ours: addText, ratio: r(add, 10_000) },
    { system: 'Tessera (POSIX, HDD)', figure: '~2,900 writes/s, integrate avg 6.0 s (no antispam)', conditions: '12-core / 8 GB LXC, ZFS mirror of 2 SAS disks, fsync-bound', source: 'tessera storage/posix/PERFORMANCE.md', ours: addText, ratio: r(add, 2_900) },
    { system: 'Tessera (GCP)', figure: '> 5,000 QPS with antispam', conditions: '300 Spanner PUs + 2 frontends', source: 'tessera docs/performance.md', ours: addText, ratio: r(add, 5_000) },
    { system: 'TesseraCT (GCP)', figure: '~1,700 write QPS, integrate avg 1.03 s', conditions: '3× n2-standard-4 + 200 Spanner PUs, batch 1024 / 500 ms, awaiter on', source: 'transparency-dev/tesseract docs/performance.md', ours: addText, ratio: r(add, 1_700) },
    { system: 'Trillian (CloudSpanner)', figure: '1,000+ entries/s', conditions: 'depends on the number of Spanner servers', source: 'google/trillian docs/Feature_Implementation_Matrix.md', ours: addText, ratio: r(add, 1_000) },
    { system: 'Trillian (MySQL)', figure: '400–500 entries/s', conditions: 'MySQL 5.7', source: 'same', ours: addText, ratio: r(add, 450) },
    { system: 'Trillian (signer, 2 cores)', figure: '~60 entries/s per tree; merge delay 2.25 s', conditions: '2-core / 4 GB signer, batch 1000, RocksDB-MySQL', source: 'google/trillian issue #2261', ours: addText, ratio: r(add, 60, 0) },
    { system: 'Rekor v2', figure: '> 3,000 QPS expected; clients must allow ≥ 20 s per write', conditions: 'Tessera load testing (GCP)', source: 'sigstore/rekor-tiles issue #612, CLIENTS.md', ours: addText, ratio: r(add, 3_000) },
    { system: 'immudb (server)', figure: '1,881 tx/s (1 KV per tx)', conditions: 'sample run in the PR', source: 'codenotary/immudb PR #1500', ours: addText, ratio: r(add, 1_881) },
    {
      system: 'immudb (server, batched)',
      figure: '341,777 KV/s (1,000 KV per tx)',
      conditions: 'sample run in the PR',
      source: 'codenotary/immudb PR #1500',
      ours: grpcBest ? `${fmt(grpcBest.rate)} events/s over gRPC, ${fmt(grpcBest.batch)} per request (raw client; durable, proof per event)` : '—',
      ratio: r(grpcBest?.rate, 341_777),
    },
    { system: 'immudb (embedded)', figure: '1.2–1.8M entries/s', conditions: '1M entries, 20–100 workers, batch 1000, 4-core E3-1275v6, SSD', source: 'codenotary/immudb README.md', ours: integBest === undefined ? '—' : `${fmt(integBest)} entries/s in-process (Sequencer, synced batches, proofs built)`, ratio: r(integBest, 1_500_000) },
    { system: 'immudb (server, sync replica)', figure: '130 tx/s (1 KV per tx)', conditions: 'one synchronous replica', source: 'immudb PR #1500', ours: batch1 ? `${fmt(median(batch1.level.map((x) => x.entriesPerSec)))} entries/s with one sync per entry (batch size 1, in-process)` : '—', ratio: r(batch1 && median(batch1.level.map((x) => x.entriesPerSec)), 130, 1) },
    { system: 'Sunlight (Let\'s Encrypt)', figure: 'p75 submission time just under 1 s', conditions: 'sequencing every 1 s, S3-compatible storage', source: 'FiloSottile/sunlight issue #33', ours: latText, ratio: half ? `${fmt(half.p99 / 1000, 3)}× (p99 ÷ their p75; lower is better)` : '—' },
    { system: 'Tessera', figure: 'time to integrate avg 3.1 s', conditions: 'POSIX NVMe at ~10,000 writes/s', source: 'tessera docs/performance.md', ours: latText, ratio: p50 !== undefined ? `${fmt(p50 / 3103, 4)}× (p50 ÷ their avg; lower is better)` : '—' },
    { system: 'Rekor v1', figure: 'latency > 750 ms frequently', conditions: 'production', source: 'sigstore/rekor issue #741', ours: latText, ratio: half ? `${fmt(half.p99 / 750, 3)}× (p99 ÷ 750 ms; lower is better)` : '—' },
    { system: 'AWS CloudTrail', figure: 'logs delivered ~5 min after the call on average; signed digest hourly', conditions: 'managed service', source: 'awsdocs how-cloudtrail-works.md', ours: latText, ratio: half ? `${fmt(half.p99 / 300_000, 6)}× (p99 ÷ 5 min; lower is better)` : '—' },
    {
      system: 'tlog-tiles (any)',
      figure: `≈ ${fmt(TILE_FLOOR, 2)} B of hash tiles per entry (derived)`,
      conditions: 'tile format floor',
      source: 'C2SP tlog-tiles.md',
      ours: largest ? `${fmt(largest.disk.tiles / largest.size, 2)} B/entry of hash tiles with interiors at ${fmt(largest.size)} entries (LevelDB estimate)` : '—',
      ratio: largest ? `${fmt(largest.disk.tiles / largest.size / TILE_FLOOR, 2)}× (lower is better)` : '—',
    },
    {
      system: 'Tessera antispam',
      figure: '32 + 8 B per index entry + overhead',
      conditions: 'persistent dedup index',
      source: 'tessera docs/design/antispam.md',
      ours: largest ? `${fmt(largest.disk.leafIndex / largest.size, 1)} B/entry of leaf-hash index` : '—',
      ratio: largest ? `${fmt(largest.disk.leafIndex / largest.size / 40, 2)}× (lower is better)` : '—',
    },
    {
      system: 'sum.golang.org (x/mod sumdb/tlog)',
      figure: 'tree size 45,752,995; no throughput published',
      conditions: 'production, Google-internal server',
      source: 'sourcespotter.com/sumdb',
      ours: go?.go ? `measured here, same run: tree building ${fmt(median(go.ours.buildPerSec))} vs Go ${fmt(median(go.go.buildPerSec))} records/s; proofs ${fmt(median(go.ours.proofsPerSec))} vs Go ${fmt(median(go.go.proofsHashReaderPerSec))}/s` : '—',
      ratio: go?.go ? `${fmt(median(go.ours.buildPerSec) / median(go.go.buildPerSec), 2)}× (building), ${fmt(median(go.ours.proofsPerSec) / median(go.go.proofsHashReaderPerSec), 2)}× (proofs)` : '—',
    },
  ];
}

/** How busy other processes kept the machine, from the probes before and after each scenario. */
function loadNote(): string {
  const probes: { name: string; cores: number }[] = [];
  for (const name of resultNames()) {
    const d = loadResult<Partial<ResultMeta>>(name);
    if (!d?.load) continue;
    for (const l of [d.load.before, d.load.after]) if (l) probes.push({ name, cores: l.busyCores });
  }
  if (probes.length === 0) return '';
  const cs = probes.map((p) => p.cores);
  const busiest = probes.reduce((a, b) => (b.cores > a.cores ? b : a));
  return `The machine was shared: in the one-second idle probes before and after each scenario, other processes (other engineers' test and load runs) kept ${fmt(Math.min(...cs), 2)} to ${fmt(Math.max(...cs), 2)} of its 2 cores busy (median ${fmt(median(cs), 2)}; busiest around \`${busiest.name}\`). Each section states its own probes.`;
}

export async function main(): Promise<void> {
  const data: SummaryData = { date: new Date().toISOString(), goals: goals() };
  saveResult('summary', data);
  const g = data.goals;
  const met = g.filter((x) => x.met === true).length;
  const missed = g.filter((x) => x.met === false);
  const plot = renderCharts('summary', data).join('\n');
  writeSection(
    'Goals',
    `Written by \`npm run bench -- summary\` from the latest JSON of each scenario (${data.date.slice(0, 16).replace('T', ' ')} UTC): ${met} goals met, ${missed.length} missed, ${g.length - met - missed.length} not decided. ${loadNote()}

| goal | measured | verdict | section |
|---|---|---|---|
${g.map((x) => `| ${x.goal} | ${x.measured} | ${x.met === undefined ? 'not decided' : x.met ? 'met' : '**missed**'} | ${x.where} |`).join('\n')}

${g
  .filter((x) => x.why)
  .map((x) => `- **${x.met === false ? 'Missed' : 'Open'}: ${x.goal}.** ${x.why}.`)
  .join('\n')}

${plot}`,
  );
  const a = anchors();
  writeSection(
    'Comparison with the anchors',
    `The anchors' published figures (from ../shared/research/anchors.md, with the conditions stated there) beside
ours from this machine: 2 cores shared by client and server, loopback, one process, LevelDB on a virtual disk.
Their figures come from other hardware, often many more cores and managed databases, so a ratio says where we
stand, not who is faster on equal hardware. The one peer run on this machine, in the same run as ours, is Go's
\`sumdb/tlog\` (last row). Ratios are ours ÷ theirs.

| system | published figure | their conditions | source | ours (this machine) | ours ÷ theirs |
|---|---|---|---|---|---|
${a.map((x) => `| ${x.system} | ${x.figure} | ${x.conditions} | ${x.source} | ${x.ours ?? '—'} | ${x.ratio ?? '—'} |`).join('\n')}`,
  );
}
