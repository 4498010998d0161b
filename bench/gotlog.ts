/**
 * Beside Go's golang.org/x/mod/sumdb/tlog, in the same run and on the same records: tree building
 * (leaf hash, interior nodes, root) and inclusion proof generation. The Go side is bench/go/, built
 * offline against Debian's x/mod source (as test/interop does); both sides read the same record
 * file and prove the same indexes, and the roots must agree.
 *
 * Ours, tree building: node:crypto leaf hashes, then TreeState.append in batches of 4,096 (the
 * compact range plus the tile rows and interiors the sequencer commits), then the root.
 * Ours, proofs: LogService.inclusionProof over a log built through the Sequencer on an in-memory
 * store, i.e. the server's proof path (tile reader with its default 64 MiB cache) minus HTTP and
 * LevelDB. Go, proofs: ProveRecord over a plain HashReader on its stored hashes (a server), and
 * over a TileHashReader on height-8 tiles (which also authenticates each tile against the root).
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toBase64 } from '@candor/core/bytes';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { nodeHasher } from '../src/crypto/node.js';
import { LogService } from '../src/log/service.js';
import { TreeState } from '../src/log/tree.js';
import { XMOD, goBuildEnv } from './goenv.js';
import { renderCharts } from './charts.js';
import { MemStore } from './memstore.js';
import { benchSequencer, fmt, headline, median, meta, otherLoad, repeat, saveResult, sha256Ceiling, sha256Rates, spread, verdict, writeSection, type ResultMeta } from './lib.js';

const N = Number(process.env.BENCH_GO_ENTRIES ?? 1_000_000);
const PROOFS = Number(process.env.BENCH_GO_PROOFS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const RECORD = 64;
const GO_SRC = fileURLToPath(new URL('../../bench/go/', import.meta.url));

export interface GoData extends ResultMeta {
  n: number;
  proofs: number;
  runs: number;
  skipped?: string;
  ours: { sha256PerSec: number; buildPerSec: number[]; proofsPerSec: number[]; root: string };
  go?: { sha256PerSec: number; buildPerSec: number[]; proofsHashReaderPerSec: number[]; proofsTileReaderPerSec: number[]; root: string; go: string };
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Builds bench/go in a temp dir, offline; returns the binary or why it could not. */
async function buildGo(work: string): Promise<string | { skipped: string }> {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0) return { skipped: 'go is not installed (apt-get install golang-go)' };
  if (!existsSync(join(XMOD, 'sumdb/tlog/tlog.go'))) return { skipped: `x/mod is not at ${XMOD} (apt-get install golang-golang-x-mod-dev)` };
  const src = join(work, 'src');
  mkdirSync(src, { recursive: true });
  for (const f of ['go.mod', 'main.go']) copyFileSync(join(GO_SRC, f), join(src, f));
  const env = goBuildEnv(work);
  const bin = join(work, 'tlogbench');
  await run('go', ['build', '-o', bin, '.'], { cwd: src, env, timeoutMs: 120_000 });
  return bin;
}

function buildOurs(records: Uint8Array[]): { perSec: number; root: string } {
  const t0 = performance.now();
  const tree = TreeState.empty(nodeHasher);
  for (let i = 0; i < records.length; i += 4096) {
    const chunk = records.slice(i, i + 4096);
    tree.append(chunk.map((r) => nodeHasher.leaf(r)));
  }
  const root = tree.root();
  return { perSec: records.length / ((performance.now() - t0) / 1000), root: toBase64(root) };
}

async function proofLog(records: Uint8Array[]): Promise<{ service: LogService; root: string }> {
  const store = new MemStore();
  const seq = await benchSequencer(store, {
    maxBatch: 16384,
    maxQueue: records.length,
    maxQueueBytes: records.length * RECORD * 2,
  });
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < records.length; i += 4096) calls.push(seq.submitMany(records.slice(i, i + 4096)));
  await Promise.all(calls);
  return { service: new LogService({ sequencer: seq, store, hasher: nodeHasher }), root: toBase64(parseCheckpoint(seq.checkpoint.slice(0, seq.checkpoint.indexOf('\n\n') + 1)).root) };
}

export async function main(): Promise<void> {
  const before = await otherLoad();
  const work = mkdtempSync(join(tmpdir(), 'candor-gotlog-'));
  try {
    const raw = randomBytes(N * RECORD);
    const records = Array.from({ length: N }, (_, i) => raw.subarray(i * RECORD, (i + 1) * RECORD));
    const indexes = Array.from({ length: PROOFS }, () => Math.floor(Math.random() * N));
    writeFileSync(join(work, 'records'), raw);
    const ix = Buffer.alloc(PROOFS * 8);
    indexes.forEach((x, i) => ix.writeBigUInt64LE(BigInt(x), i * 8));
    writeFileSync(join(work, 'indexes'), ix);

    const bin = await buildGo(work);
    let go: GoData['go'];
    let skipped: string | undefined;
    if (typeof bin === 'string') {
      console.log(`running ${bin} on ${fmt(N)} records`);
      go = JSON.parse(await run(bin, ['-records', join(work, 'records'), '-indexes', join(work, 'indexes'), '-size', String(RECORD), '-runs', String(RUNS)], { timeoutMs: 600_000 }));
      console.log(`Go ${go!.go}: SHA-256 ${fmt(go!.sha256PerSec)}/s; build ${spread(go!.buildPerSec)} records/s; proofs ${spread(go!.proofsHashReaderPerSec)}/s (HashReader), ${spread(go!.proofsTileReaderPerSec)}/s (TileHashReader)`);
    } else {
      skipped = bin.skipped;
      console.log(`Go side skipped: ${skipped}`);
    }

    const sha256PerSec = sha256Ceiling(await sha256Rates(RUNS));
    const builds = await repeat(RUNS, () => buildOurs(records));
    const root = builds[0]!.root;
    if (go && go.root !== root) throw new Error(`roots differ: Go ${go.root}, ours ${root}`);
    const log = await proofLog(records);
    if (log.root !== root) throw new Error(`the sequencer's root ${log.root} differs from TreeState's ${root}`);
    const proofs = await repeat(RUNS, async () => {
      const t0 = performance.now();
      for (const index of indexes) await log.service.inclusionProof({ index });
      return PROOFS / ((performance.now() - t0) / 1000);
    });
    console.log(`ours: SHA-256 ${fmt(sha256PerSec)}/s; build ${spread(builds.map((b) => b.perSec))} records/s; proofs ${spread(proofs)}/s; root ${root}${go ? ' (same as Go)' : ''}`);
    const after = await otherLoad();
    const data: GoData = {
      ...meta('gotlog', 'npm run bench -- go', before, after),
      n: N,
      proofs: PROOFS,
      runs: RUNS,
      ...(skipped ? { skipped } : {}),
      ours: { sha256PerSec, buildPerSec: builds.map((b) => b.perSec), proofsPerSec: proofs, root },
      ...(go ? { go } : {}),
    };
    saveResult('gotlog', data);
    writeSection("Beside Go's sumdb/tlog", goSection(data));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function goSection(d: GoData): string {
  const ob = median(d.ours.buildPerSec);
  const op = median(d.ours.proofsPerSec);
  const ceiling = d.ours.sha256PerSec / 2;
  const head = `${headline(d, `${fmt(d.n)} records of ${RECORD} random bytes, ${fmt(d.proofs)} random inclusion proofs, ${d.runs} runs, medians`)}

Both sides read the same records and prove the same indexes; the roots agree (${d.ours.root}).
Go (bench/go/main.go, ${d.go?.go ?? 'not run'}, golang.org/x/mod 0.7.0 from Debian): \`StoredHashes\` for every record then
\`TreeHash\`; \`ProveRecord\` over a \`HashReader\` on its stored hashes (what a server holding them does) and over a
\`TileHashReader\` on height-8 tiles (which also authenticates every tile it reads against the root, as a client
does). Ours: node:crypto leaf hashes and \`TreeState.append\` in batches of 4,096 (compact range, tile rows and
interiors, as the sequencer commits them) then the root; proofs through \`LogService.inclusionProof\` on a log built by
the Sequencer on an in-memory store: the server's proof path (tile reader, default 64 MiB cache) without HTTP or
LevelDB.`;
  if (!d.go) return `${head}\n\nThe Go side was skipped: ${d.skipped}.`;
  const gb = median(d.go.buildPerSec);
  const gp = median(d.go.proofsHashReaderPerSec);
  const gt = median(d.go.proofsTileReaderPerSec);
  return `${head}

| work | Candor (runs) | Go sumdb/tlog (runs) | Candor ÷ Go | goal |
|---|---:|---:|---:|---|
| SHA-256 of 65 bytes, per second | ${fmt(d.ours.sha256PerSec)} | ${fmt(d.go.sha256PerSec)} | ${fmt(d.ours.sha256PerSec / d.go.sha256PerSec, 2)} | |
| tree building, records/s | ${fmt(ob)} (${spread(d.ours.buildPerSec)}) | ${fmt(gb)} (${spread(d.go.buildPerSec)}) | **${fmt(ob / gb, 2)}** | within 3× of Go (ratio ≥ 0.33): ${verdict(ob / gb >= 1 / 3)} |
| inclusion proofs/s, Go over \`HashReader\` | ${fmt(op)} (${spread(d.ours.proofsPerSec)}) | ${fmt(gp)} (${spread(d.go.proofsHashReaderPerSec)}) | **${fmt(op / gp, 2)}** | |
| inclusion proofs/s, Go over \`TileHashReader\` | ${fmt(op)} | ${fmt(gt)} (${spread(d.go.proofsTileReaderPerSec)}) | ${fmt(op / gt, 2)} | |

Tree building beside the hashing ceiling of the same run (two SHA-256 per record, at the fastest rate node:crypto or
@noble/hashes gives in JavaScript, \`npm run bench -- integration\` lists each: ${fmt(ceiling)} records/s):
ours ${fmt(ob)} records/s is **${fmt(ob / ceiling, 2)}** of it (goal: within 2×, ratio ≥ 0.5: ${verdict(ob / ceiling >= 0.5)}); Go's is
${fmt(gb / (d.go.sha256PerSec / 2), 2)} of its own ceiling (${fmt(d.go.sha256PerSec / 2)} records/s).

${renderCharts('gotlog', d).join('\n')}`;
}
