/**
 * A stand-in Candor log for the Go interop verifier: serves the read API (checkpoint, tiles, entry
 * bundles, proofs, entries) from an in-memory tree built with Candor's pure core, so the Go program
 * can be checked without the real server, and so tests can feed it deliberately broken answers.
 *
 * Two modes:
 *  - own tree (default): entries are generated in memory and the checkpoint is signed by a fresh
 *    key (plus optional cosignature/v1 witnesses);
 *  - proxy (`upstream`): every GET is forwarded to a real log, so the checkpoint and signatures are
 *    the real ones and only the tampered part differs.
 * In both, `tamper` flips one byte in one kind of answer.
 *
 * Standalone, for poking at it by hand:
 *   npx tsx test/interop/fixture-server.ts [--size N] [--witnesses K] [--tamper KIND] [--upstream URL] [--port P]
 */
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import Fastify from 'fastify';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { rfc9162Hasher } from '@candor/core/hash';
import { CompactRange, consistencyProofRanges, inclusionProofRanges, proofHashes, rangeHash } from '@candor/core/merkle';
import { SIG_COSIGNATURE_V1, generateSignerKey, parseSignerKey, signNote, type NoteSigner } from '@candor/core/note';
import { ENTRIES, TILE_HEIGHT, TILE_WIDTH, encodeBundle, parseTilePath, tileExists } from '@candor/core/tile';

export const TAMPER_KINDS = [
  'none',
  'inclusion-proof', // one byte of the first inclusion proof hash
  'leaf-hash', // one byte of the inclusion answer's leafHash
  'consistency-proof', // one byte of the first consistency proof hash
  'tile', // one byte of every hash tile
  'bundle', // the last byte of every entry bundle
  'entry', // one byte of every /entries item
  'checkpoint-signature', // one byte of the first signature line's signature (the log's)
  'cosignature', // one byte of the last signature line's signature (a witness's)
  'signed-wrong-root', // own tree only: a correctly signed checkpoint over a wrong root
] as const;
export type Tamper = (typeof TAMPER_KINDS)[number];

export interface FixtureOptions {
  origin?: string;
  /** Entries to generate (own-tree mode); see fixtureEntry. */
  size?: number;
  /** Number of cosignature/v1 witnesses that cosign each checkpoint (own-tree mode). */
  witnesses?: number;
  tamper?: Tamper;
  /** Ed25519 seed of the log key; two fixtures sharing it and differing in entries are a fork. */
  logSeed?: Uint8Array;
  /** Proxy mode: base URL of a real log. */
  upstream?: string;
  port?: number;
}

export interface Fixture {
  url: string;
  /** The log's verifier key (own-tree mode; in proxy mode the caller knows the real one). */
  vkey: string;
  witnessVkeys: string[];
  size(): number;
  /** The signed checkpoint currently served (before any tampering). */
  checkpoint(): string;
  append(entries: readonly Uint8Array[]): void;
  close(): Promise<void>;
}

/** The i-th generated entry; lengths vary (one is empty) so bundle framing is exercised. */
export function fixtureEntry(i: number): Uint8Array {
  return i === 1 ? new Uint8Array(0) : utf8(`candor fixture entry ${i}${'.'.repeat(i % 13)}`);
}

const hasher = rfc9162Hasher((d) => new Uint8Array(createHash('sha256').update(d).digest()));

/** An append-only tree keeping every node, which is cheap at test sizes and makes reads trivial. */
class MemoryTree {
  readonly entries: Uint8Array[] = [];
  /** nodes[height][index] = hash of leaves [index·2^height, (index+1)·2^height). */
  readonly nodes: Uint8Array[][] = [];
  readonly #range = new CompactRange(hasher);

  append(entry: Uint8Array): void {
    this.entries.push(entry);
    this.#range.append(hasher.leaf(entry), (h, i, hash) => {
      (this.nodes[h] ??= [])[i] = hash;
    });
  }

  get size(): number {
    return this.entries.length;
  }

  read = (height: number, index: number): Uint8Array => {
    const h = this.nodes[height]?.[index];
    if (!h) throw new Error(`fixture bug: node ${height}/${index} missing`);
    return h;
  };

  root(size = this.size): Uint8Array {
    return rangeHash(hasher, 0, size, this.read);
  }
}

interface Answer {
  status: number;
  type: string;
  body: Uint8Array;
}

const json = (status: number, v: unknown): Answer => ({ status, type: 'application/json; charset=utf-8', body: utf8(JSON.stringify(v)) });
const errorAnswer = (status: number, code: string, message: string): Answer => json(status, { error: { code, message } });

/** A query parameter as a non-negative safe integer in canonical decimal, or undefined. */
function intParam(q: URLSearchParams, name: string): number | undefined {
  const s = q.get(name);
  if (s === null || !/^(0|[1-9][0-9]*)$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function flipBase64(s: string, at = -1): string {
  const b = fromBase64(s);
  if (b.length === 0) return s;
  const i = at < 0 ? b.length + at : at;
  b[i] = b[i]! ^ 0x01;
  return toBase64(b);
}

/** Flips one byte of the signature (not the key ID, which would merely make the line unknown). */
function flipSignatureLine(note: string, which: 'first' | 'last'): string {
  const split = note.lastIndexOf('\n\n');
  const lines = note.slice(split + 2, -1).split('\n');
  const k = which === 'first' ? 0 : lines.length - 1;
  const sp = lines[k]!.lastIndexOf(' ');
  lines[k] = lines[k]!.slice(0, sp + 1) + flipBase64(lines[k]!.slice(sp + 1));
  return `${note.slice(0, split + 2)}${lines.join('\n')}\n`;
}

function tamperAnswer(kind: Tamper, path: string, a: Answer): Answer {
  if (kind === 'none' || a.status !== 200) return a;
  const text = () => new TextDecoder().decode(a.body);
  const withJson = (f: (v: any) => void): Answer => {
    const v = JSON.parse(text());
    f(v);
    return { ...a, body: utf8(JSON.stringify(v)) };
  };
  if (path === '/checkpoint') {
    if (kind === 'checkpoint-signature') return { ...a, body: utf8(flipSignatureLine(text(), 'first')) };
    if (kind === 'cosignature') return { ...a, body: utf8(flipSignatureLine(text(), 'last')) };
    return a;
  }
  if (path === '/proof/inclusion') {
    if (kind === 'inclusion-proof') return withJson((v) => v.proof.length > 0 && (v.proof[0] = flipBase64(v.proof[0], 0)));
    if (kind === 'leaf-hash') return withJson((v) => (v.leafHash = flipBase64(v.leafHash, 0)));
    return a;
  }
  if (path === '/proof/consistency') {
    if (kind === 'consistency-proof') return withJson((v) => v.proof.length > 0 && (v.proof[0] = flipBase64(v.proof[0], 0)));
    return a;
  }
  if (path === '/entries' && kind === 'entry') {
    return withJson((v) => {
      for (const e of v.entries) e.data = e.data === '' ? toBase64(new Uint8Array([0])) : flipBase64(e.data, 0);
    });
  }
  const isBundle = path.startsWith('/tile/entries/');
  if ((kind === 'bundle' && isBundle) || (kind === 'tile' && path.startsWith('/tile/') && !isBundle)) {
    const body = a.body.slice();
    if (body.length > 0) body[kind === 'tile' ? 0 : body.length - 1]! ^= 0x01;
    return { ...a, body };
  }
  return a;
}

export async function startFixture(opts: FixtureOptions = {}): Promise<Fixture> {
  const tamper = opts.tamper ?? 'none';
  const origin = opts.origin ?? 'fixture.candor.test/log';
  const tree = new MemoryTree();
  const log = opts.logSeed ? generateSignerKey(origin, opts.logSeed) : generateSignerKey(origin);
  const logSigner = parseSignerKey(log.skey).signer;
  const witnesses = Array.from({ length: opts.witnesses ?? 0 }, (_, k) => {
    const { skey } = generateSignerKey(`witness${k}.candor.test`);
    return parseSignerKey(skey, { type: SIG_COSIGNATURE_V1 });
  });
  const signers: NoteSigner[] = [logSigner, ...witnesses.map((w) => w.signer)];
  let note = '';
  const resign = () => {
    let root = tree.root();
    if (tamper === 'signed-wrong-root') {
      root = root.slice();
      root[0]! ^= 0x01;
    }
    note = signNote(formatCheckpoint({ origin, size: tree.size, root, extensions: [] }), signers);
  };
  const append = (entries: readonly Uint8Array[]) => {
    for (const e of entries) tree.append(e);
    resign();
  };
  append(Array.from({ length: opts.size ?? 0 }, (_, i) => fixtureEntry(i)));

  const serveOwn = (path: string, q: URLSearchParams): Answer => {
    const size = tree.size;
    if (path === '/checkpoint') return { status: 200, type: 'text/plain; charset=utf-8', body: utf8(note) };
    if (path.startsWith('/tile/')) {
      let t;
      try {
        t = parseTilePath(path.slice(1));
      } catch (e) {
        return errorAnswer(400, 'invalid_argument', (e as Error).message);
      }
      if (!tileExists(t, size)) return errorAnswer(404, 'not_found', `${path} is not in the tree of size ${size}`);
      const start = t.index * TILE_WIDTH;
      if (t.level === ENTRIES) {
        return { status: 200, type: 'application/octet-stream', body: encodeBundle(tree.entries.slice(start, start + t.width)) };
      }
      const row = tree.nodes[t.level * TILE_HEIGHT]!;
      const body = new Uint8Array(t.width * 32);
      for (let i = 0; i < t.width; i++) body.set(row[start + i]!, i * 32);
      return { status: 200, type: 'application/octet-stream', body };
    }
    if (path === '/proof/inclusion') {
      const index = intParam(q, 'index');
      const n = intParam(q, 'size');
      if (index === undefined || n === undefined) return errorAnswer(400, 'invalid_argument', 'index and size are required');
      if (index >= n || n > size) return errorAnswer(400, 'out_of_range', `index ${index} size ${n} with tree size ${size}`);
      const proof = proofHashes(hasher, inclusionProofRanges(index, n), tree.read);
      return json(200, { index, size: n, leafHash: toBase64(tree.read(0, index)), proof: proof.map(toBase64), root: toBase64(tree.root(n)) });
    }
    if (path === '/proof/consistency') {
      const from = intParam(q, 'from');
      const to = intParam(q, 'to');
      if (from === undefined || to === undefined) return errorAnswer(400, 'invalid_argument', 'from and to are required');
      if (from < 1 || from > to || to > size) return errorAnswer(400, 'out_of_range', `from ${from} to ${to} with tree size ${size}`);
      const proof = proofHashes(hasher, consistencyProofRanges(from, to), tree.read);
      return json(200, { from, to, proof: proof.map(toBase64) });
    }
    if (path === '/entries') {
      const start = intParam(q, 'start');
      const end = intParam(q, 'end');
      if (start === undefined || end === undefined || start >= end) return errorAnswer(400, 'invalid_argument', 'need start < end');
      if (end > size) return errorAnswer(400, 'out_of_range', `end ${end} is beyond tree size ${size}`);
      if (end - start > 1000) return errorAnswer(400, 'invalid_argument', 'at most 1000 entries per request');
      const entries = tree.entries.slice(start, end).map((e, k) => ({ index: start + k, data: toBase64(e) }));
      return json(200, { entries });
    }
    return errorAnswer(404, 'not_found', `no route ${path}`);
  };

  const serveUpstream = async (pathAndQuery: string): Promise<Answer> => {
    const res = await fetch(opts.upstream!.replace(/\/$/, '') + pathAndQuery);
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? 'application/octet-stream',
      body: new Uint8Array(await res.arrayBuffer()),
    };
  };

  const app = Fastify({ logger: false });
  app.get('/*', async (req, reply) => {
    const u = new URL(req.url, 'http://fixture');
    const genuine = opts.upstream ? await serveUpstream(u.pathname + u.search) : serveOwn(u.pathname, u.searchParams);
    const a = tamperAnswer(tamper, u.pathname, genuine);
    return reply.code(a.status).type(a.type).send(Buffer.from(a.body));
  });
  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('fixture: no TCP address');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    vkey: log.vkey,
    witnessVkeys: witnesses.map((w) => w.vkey),
    size: () => tree.size,
    checkpoint: () => note,
    append,
    close: () => app.close(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const tamper = (arg('tamper') ?? 'none') as Tamper;
  if (!TAMPER_KINDS.includes(tamper)) throw new Error(`--tamper must be one of ${TAMPER_KINDS.join(', ')}`);
  const f = await startFixture({
    size: Number(arg('size') ?? 300),
    witnesses: Number(arg('witnesses') ?? 0),
    tamper,
    ...(arg('upstream') ? { upstream: arg('upstream')! } : {}),
    port: Number(arg('port') ?? 0),
  });
  console.log(JSON.stringify({ url: f.url, vkey: f.vkey, witnessVkeys: f.witnessVkeys, size: f.size() }));
}
