// Building and running test/interop/go/ (the verifier on golang.org/x/mod), shared by the interop
// tests: offline, from a copy in a temp dir, so nothing (go.sum, caches) lands in the repository.
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMOD, goBuildEnv } from '../../bench/goenv.js';

const GO_SRC = fileURLToPath(new URL('./go/', import.meta.url));

/** Go and Debian's x/mod source are installed (`apt-get install golang-go golang-golang-x-mod-dev`). */
export const hasGo =
  spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0 && existsSync(join(XMOD, 'sumdb/tlog/tlog.go')) && existsSync(join(XMOD, 'sumdb/note/note.go'));

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking this process: the servers under test live in it. */
export function exec(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: err && code === -1 ? `${stderr}\n${err.message}` : stderr });
    });
  });
}

/** Builds candor-interop into a new temp dir; returns the dir (for cleanup) and the binary. */
export async function buildInterop(prefix: string): Promise<{ work: string; bin: string }> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const src = join(work, 'src');
  mkdirSync(src);
  for (const f of ['go.mod', 'main.go']) copyFileSync(join(GO_SRC, f), join(src, f));
  const bin = join(work, 'candor-interop');
  const env = goBuildEnv(work);
  const r = await exec('go', ['build', '-o', bin, '.'], { cwd: src, env, timeoutMs: 50_000 });
  if (r.code !== 0) throw new Error(`go build failed (${r.code}):\n${r.stdout}${r.stderr}`);
  return { work, bin };
}
