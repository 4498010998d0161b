// Shared by the witness tests: a log built with the core (real Merkle tree, real Ed25519 key), an
// in-process witness on a real store in a temp dir behind real HTTP on 127.0.0.1, and a child
// witness process started from the build.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { toBase64 } from '@candor/core/bytes';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { portableHasher } from '@candor/core/hash';
import { CompactRange, consistencyProofRanges, proofHashes, treeHash } from '@candor/core/merkle';
import { generateSignerKey, parseSignerKey, signNote, type NoteSigner } from '@candor/core/note';
import { createWitnessServer } from '../../src/witness/server.js';
import { WitnessStore, addWitnessKey, initWitnessKey, loadWitnessKeys } from '../../src/witness/store.js';
import { Witness } from '../../src/witness/witness.js';
import { spawnServing, type ServingProcess } from '../helpers/server.js';

export const WITNESS_MAIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export function tempDir(prefix = 'candor-witness-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** An append-only tree over random leaf hashes that keeps every node, signed by its own key. */
export class TestLog {
  readonly origin: string;
  readonly key: { skey: string; vkey: string };
  readonly vkey: string;
  readonly signer: NoteSigner;
  readonly #nodes = new Map<string, Uint8Array>();
  readonly #range = new CompactRange(portableHasher);

  constructor(origin: string, key = generateSignerKey(origin)) {
    this.origin = origin;
    this.key = key;
    this.vkey = key.vkey;
    this.signer = parseSignerKey(key.skey).signer;
  }

  get size(): number {
    return this.#range.size;
  }

  append(n: number): this {
    for (let i = 0; i < n; i++) this.appendLeaf(new Uint8Array(randomBytes(32)));
    return this;
  }

  appendLeaf(leafHash: Uint8Array): this {
    this.#range.append(leafHash, (h, k, hash) => this.#nodes.set(`${h}/${k}`, hash));
    return this;
  }

  /** A log with the same origin and key that shares the first `at` leaves: a split view once it grows. */
  fork(at: number): TestLog {
    const other = new TestLog(this.origin, this.key);
    for (let i = 0; i < at; i++) other.appendLeaf(this.node(0, i));
    return other;
  }

  node = (height: number, index: number): Uint8Array => {
    const h = this.#nodes.get(`${height}/${index}`);
    if (h === undefined) throw new Error(`bad math: node ${height}/${index} not built`);
    return h;
  };

  root(size = this.size): Uint8Array {
    return treeHash(portableHasher, size, this.node);
  }

  /** RFC 9162 consistency proof from m to n (0 < m <= n <= size). */
  proof(m: number, n = this.size): Uint8Array[] {
    return proofHashes(portableHasher, consistencyProofRanges(m, n), this.node);
  }

  /** The signed checkpoint at `size`; `root` overrides the real root (to forge). */
  checkpoint(size = this.size, root = this.root(size), signers: NoteSigner[] = [this.signer]): string {
    return signNote(formatCheckpoint({ origin: this.origin, size, root, extensions: [] }), signers);
  }

  /** An add-checkpoint body from `old` to `size` with the real proof. */
  body(old: number, size = this.size, proof = old > 0 && old < size ? this.proof(old, size) : []): string {
    return requestBody(old, proof, this.checkpoint(size));
  }
}

export function requestBody(old: number, proof: Uint8Array[], checkpoint: string): string {
  return `old ${old}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${checkpoint}`;
}

export interface RunningWitness {
  url: string;
  dir: string;
  store: WitnessStore;
  witness: Witness;
  vkeys: string[];
  post(body: string | Uint8Array, headers?: Record<string, string>): Promise<{ status: number; body: string; type: string | null }>;
  get(path: string): Promise<{ status: number; body: string; type: string | null }>;
  close(): Promise<void>;
}

/** A witness with `keys` keys named `name`, witnessing `logs`, served on 127.0.0.1 with a fresh store. */
export async function startWitness(
  opts: { logs?: Array<{ origin: string; vkeys: string[] }>; name?: string; keys?: number; logger?: Logger; now?: () => number; dir?: string } = {},
): Promise<RunningWitness> {
  const dir = opts.dir ?? tempDir();
  const name = opts.name ?? 'witness.example.com/w1';
  if (!existsSync(join(dir, 'witness.key'))) {
    await initWitnessKey(dir, name);
    for (let i = 1; i < (opts.keys ?? 1); i++) await addWitnessKey(dir, name);
  }
  const keys = await loadWitnessKeys(dir, opts.now);
  const store = await WitnessStore.open(dir);
  for (const l of opts.logs ?? []) await store.addLog(l);
  const witness = new Witness({ store, signers: keys.map((k) => k.signer), ...(opts.logger ? { logger: opts.logger } : {}) });
  const app = await createWitnessServer({ witness });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const call = async (path: string, init: RequestInit) => {
    const res = await fetch(url + path, { ...init, signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
  };
  return {
    url,
    dir,
    store,
    witness,
    vkeys: keys.map((k) => k.vkey),
    post: (body, headers) => call('/add-checkpoint', { method: 'POST', body, ...(headers ? { headers } : {}) }),
    get: (path) => call(path, {}),
    async close() {
      await app.close();
      await store.close();
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

export type ChildWitness = ServingProcess;

/** Runs the built CLI (`node dist/src/cli/main.js witness ...`) to completion. */
export async function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireBuild();
  const proc = spawn(process.execPath, [WITNESS_MAIN, 'witness', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => (stdout += d));
  proc.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function requireBuild(): void {
  if (!existsSync(WITNESS_MAIN)) throw new Error(`${WITNESS_MAIN} is missing: run "npm run build" first`);
}

/** Starts `witness serve --http 127.0.0.1:0` as a child process; resolves once it is serving. */
export async function spawnWitness(dir: string, extra: string[] = []): Promise<ChildWitness> {
  requireBuild();
  return spawnServing(['witness', 'serve', '--data', dir, '--http', '127.0.0.1:0', ...extra], { what: 'witness' });
}
