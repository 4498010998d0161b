/** `npm run bench` runs every scenario; `npm run bench -- <name> [...]` runs the named ones. */
const SCENARIOS: Record<string, () => Promise<{ main(): Promise<void> }>> = {
  integration: () => import('./integration.js'),
  http: () => import('./http.js'),
  scale: () => import('./scale.js'),
  defaults: () => import('./defaults.js'),
};

const wanted = process.argv.slice(2);
for (const name of wanted.length ? wanted : Object.keys(SCENARIOS)) {
  const load = SCENARIOS[name];
  if (!load) {
    console.error(`unknown benchmark "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
  console.log(`\n== ${name}`);
  await (await load()).main();
}
