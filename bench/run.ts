/**
 * `npm run bench` runs every scenario, then the summary; `npm run bench -- <name> [...]` runs the
 * named ones. `plots` redraws every plot from bench/results/*.json, and `render` rewrites every
 * section of RESULTS.md from it, without measuring anything.
 * The 100M-entry scale run is opt-in: BENCH_SCALE_SIZES=1000000,10000000,100000000.
 */
import { loadResult, resultNames, writeSection } from './lib.js';

/** For `render`: each scenario's JSON, its section title and the function that writes the section. */
const SECTIONS: [json: string, title: string, load: () => Promise<(d: never) => string>][] = [
  ['integration', 'In-process integration', async () => (await import('./integration.js')).integrationSection],
  ['durability', 'Durability cost', async () => (await import('./durability.js')).durabilitySection],
  ['gotlog', "Beside Go's sumdb/tlog", async () => (await import('./gotlog.js')).goSection],
  ['http', 'HTTP', async () => (await import('./http.js')).httpSection],
  ['latency', 'Latency', async () => (await import('./latency.js')).latencySection],
  ['grpc', 'gRPC ingest', async () => (await import('./grpc.js')).grpcSection],
  ['go-client', 'Go client', async () => (await import('./go-client.js')).goClientSection],
  ['grpc-latency', 'gRPC acknowledgement latency', async () => (await import('./grpc-latency.js')).grpcLatencySection],
  ['ingest-costs', 'Ingest costs', async () => (await import('./ingest-costs.js')).costsSection],
  ['scale', 'Scale', async () => (await import('./scale.js')).scaleSection],
  ['defaults', 'Batch defaults', async () => (await import('./defaults.js')).defaultsSection],
  ['profile', 'Profiles', async () => (await import('./profile.js')).profileSection],
  ['soak', 'Crash soak', async () => (await import('./soak.js')).soakSection],
  ['recovery', 'Crash recovery', async () => (await import('./recovery.js')).recoverySection],
  ['faults', 'Corruption and fuzzing', async () => (await import('./faults.js')).faultsSection],
  ['search', 'Search', async () => (await import('./search.js')).searchSection],
  ['export', 'Export', async () => (await import('./export.js')).exportSection],
  ['startup', 'Start-up', async () => (await import('./startup.js')).startupSection],
  ['cloud', 'Cloud driver', async () => (await import('./cloud.js')).cloudSection],
  ['capture', 'Database capture', async () => (await import('./capture.js')).captureSection],
  ['ha', 'High availability: takeover', async () => (await import('./ha.js')).haSection],
];

const SCENARIOS: Record<string, () => Promise<{ main(): Promise<void> }>> = {
  integration: () => import('./integration.js'),
  durability: () => import('./durability.js'),
  go: () => import('./gotlog.js'),
  http: () => import('./http.js'),
  latency: () => import('./latency.js'),
  grpc: () => import('./grpc.js'),
  // Opt-in (a few minutes each): p99 acknowledgement at half the SDK's peak, and the cost of
  // producer signatures and idempotency checks.
  'grpc-latency': () => import('./grpc-latency.js'),
  // The Go client (clients/go) beside the SDK at batch 256; needs Go (clients/go/test.sh installs it).
  'go-client': () => import('./go-client.js'),
  'ingest-costs': () => import('./ingest-costs.js'),
  scale: () => import('./scale.js'),
  defaults: () => import('./defaults.js'),
  witness: () => import('./witness.js'),
  profile: () => import('./profile.js'),
  // Fault tests' long versions (docs/faults.md); opt-in, not part of the default run.
  soak: () => import('./soak.js'),
  recovery: () => import('./recovery.js'),
  faults: () => import('./faults.js'),
  search: () => import('./search.js'),
  export: () => import('./export.js'),
  // Start-up of the CLI and of `npm start` (issue 16); seconds.
  startup: () => import('./startup.js'),
  // Opt-in: the cloud driver on loopback Ceph RGW + PostgreSQL (`npm run services -- up` first).
  cloud: () => import('./cloud.js'),
  // Opt-in: needs PostgreSQL's server binaries (test/services/install.sh).
  capture: () => import('./capture.js'),
  // Opt-in: takeover time of three nodes on the cloud driver, the leader SIGKILLed (issue 17 §4).
  ha: () => import('./ha.js'),
  summary: () => import('./summary.js'),
  // Rewrites every section (and its plots) from the JSON, measuring nothing; then the summary.
  render: async () => ({
    async main() {
      for (const [json, title, load] of SECTIONS) {
        const data = loadResult(json);
        if (data === undefined) continue;
        writeSection(title, (await load())(data as never));
        console.log(`${title}: rewritten from results/${json}.json`);
      }
      await (await import('./summary.js')).main();
    },
  }),
  plots: async () => ({
    async main() {
      const { renderCharts } = await import('./charts.js');
      for (const name of resultNames()) {
        const links = renderCharts(name, loadResult(name));
        if (links.length) console.log(`${name}: ${links.length} plot(s)`);
      }
    },
  }),
};

/** What `npm run bench` runs with no names: everything that measures, then the summary. */
const ALL = ['integration', 'durability', 'go', 'http', 'latency', 'grpc', 'scale', 'search', 'defaults', 'profile', 'export', 'summary'];

const wanted = process.argv.slice(2);
const started = performance.now();
for (const name of wanted.length ? wanted : ALL) {
  const load = SCENARIOS[name];
  if (!load) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== ${name}`);
  const t0 = performance.now();
  await (await load()).main();
  console.log(`== ${name} took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
console.log(`\nall done in ${((performance.now() - started) / 60_000).toFixed(1)} min; see bench/RESULTS.md`);
