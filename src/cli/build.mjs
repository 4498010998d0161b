#!/usr/bin/env node
// Builds the project (tsc -b) when a source changed since the last successful build, so that
// `npm start` serves in about a second instead of spending 10 to 40 s in the compiler each time.
// Plain JavaScript on purpose: it runs before anything is compiled.
//
//   node src/cli/build.mjs            build only if a source is newer than the last build
//   node src/cli/build.mjs --always   run tsc -b anyway (itself incremental; `npm run build`)
//
// After tsc -b it bundles the explorer (clients/explorer, vite) into dist/explorer.
//
// "Newer" compares modification times of every input tsc -b reads (the .ts sources, the explorer's
// .html and .css, tsconfig and package.json files under src/, clients/ and bench/) with dist/.build-stamp, which is written
// only after tsc -b succeeds. A failed build therefore rebuilds on the next start.
// It also links node_modules/.bin/candor to the built CLI: npm links the bins of dependencies,
// not the root package's own, and without the link `npx candor` would install this checkout
// into npm's cache and rebuild it there.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readlinkSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const stamp = join(root, 'dist', '.build-stamp');
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const SKIP = new Set(['node_modules', 'dist', 'go', 'results']);

/** The newest modification time (ms) among the build's inputs under dir, and that file. */
function newest(dir, best = { mtime: 0, file: '' }) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!SKIP.has(e.name)) newest(p, best);
    } else if (/\.ts$|^tsconfig.*\.json$|^package\.json$|\.html$|\.css$/.test(e.name)) {
      const mtime = statSync(p).mtimeMs;
      if (mtime > best.mtime) Object.assign(best, { mtime, file: p });
    }
  }
  return best;
}

function staleBecause() {
  if (!existsSync(stamp) || !existsSync(cli)) return 'no previous build';
  const built = statSync(stamp).mtimeMs;
  let best = { mtime: statSync(join(root, 'tsconfig.json')).mtimeMs, file: join(root, 'tsconfig.json') };
  for (const d of ['src', 'clients', 'bench']) best = newest(join(root, d), best);
  return best.mtime > built ? `${relative(root, best.file)} changed` : undefined;
}

function linkBin() {
  chmodSync(cli, 0o755);
  const bin = join(root, 'node_modules', '.bin');
  const link = join(bin, 'candor');
  const target = relative(bin, cli);
  let current;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current === target) return;
  mkdirSync(bin, { recursive: true });
  if (current !== undefined || existsSync(link)) unlinkSync(link);
  symlinkSync(target, link);
}

const always = process.argv.includes('--always');
const why = always ? 'requested' : staleBecause();
if (why !== undefined) {
  const started = Date.now();
  process.stderr.write(`candor: building (tsc -b; ${why})...\n`);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-b'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('candor: the build failed (see above)\n');
    process.exit(r.status ?? 1);
  }
  // The explorer (docs/explorer.md): its page and script, bundled by vite into dist/explorer.
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const v = spawnSync(process.execPath, [vite, 'build', '--config', join('clients', 'explorer', 'vite.config.ts')], { cwd: root, stdio: 'inherit' });
  if (v.status !== 0) {
    process.stderr.write('candor: the explorer build failed (see above)\n');
    process.exit(v.status ?? 1);
  }
  // Stamped with the start time: a file saved while tsc ran is newer, so the next start rebuilds.
  writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
  utimesSync(stamp, started / 1000, started / 1000);
  process.stderr.write(`candor: built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
linkBin();
