/**
 * The auditor's side of export (docs/export.md):
 *
 *   candor export --url URL --token T [--format ndjson|csv|bundle] [--out FILE] [filters]
 *       streams GET /v1/export to a file, with a progress bar (the leaf index range comes in the
 *       response headers; each record's index, or a bundle's progress lines, say how far it got)
 *   candor verify-export FILE --key VKEY [--witness VKEY... --quorum N]
 *       checks a bundle with no network (src/query/signed-export.ts): the checkpoint's signature and
 *       cosignatures, every event's leaf and inclusion proof, the manifest's signature, count and
 *       digest. Exit 0 verified, 2 not verified (naming the event or part that failed), 1 error.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { CandorError, invalid } from '@candor/core/errors';
import type { ExportVerifyOptions, VerifiedExport } from '../../src/query/signed-export.js';
import { FILTER_KEYS } from '../../src/query/filter-keys.js';
import { logVerifiers, run, trustOptions, witnessPolicy, type TrustOptions } from './cli.js';

/** Verifies a bundle file line by line (constant memory, any size), with no network. */
export async function verifyExportFile(file: string, o: ExportVerifyOptions): Promise<VerifiedExport> {
  const { ExportVerifier } = await import('../../src/query/signed-export.js');
  const v = new ExportVerifier(o);
  const input = createReadStream(file, { encoding: 'utf8' });
  const failed = new Promise<never>((_, reject) => input.on('error', (err) => reject(invalid(`cannot read ${file}: ${err.message}`))));
  const lines = createInterface({ input, crlfDelay: Infinity });
  await Promise.race([
    (async () => {
      for await (const line of lines) v.line(line);
    })(),
    failed,
  ]);
  return v.finish();
}

/** The index of the last complete record in a chunk of NDJSON, bundle or CSV output, if any. */
function lastIndex(text: string): number | undefined {
  const end = text.lastIndexOf('\n', text.length - 2);
  const line = text.slice(end + 1);
  const m = /^\{"index":(\d+)|^\{"progress":\{"scanned":(\d+)|^(\d+),/.exec(line);
  if (!m) return undefined;
  return m[2] !== undefined ? -Number(m[2]) - 1 : Number(m[1] ?? m[3]);
}

export interface DownloadOptions {
  url: string;
  token: string;
  format: string;
  filter: Record<string, string | string[]>;
  out: NodeJS.WritableStream;
  /** Called with (done, total) entries of the index range as the body arrives. */
  onProgress?: (done: number, total: number) => void;
}

/** Streams an export to `out`; resolves with the index range it covered. */
export async function downloadExport(o: DownloadOptions): Promise<{ start: number; end: number; bytes: number }> {
  const q = new URLSearchParams({ format: o.format });
  for (const [k, v] of Object.entries(o.filter)) for (const x of Array.isArray(v) ? v : [v]) q.append(k, x);
  const res = await fetch(`${o.url.replace(/\/+$/, '')}/v1/export?${q}`, { headers: { authorization: `Bearer ${o.token}` } });
  if (!res.ok || !res.body) {
    const text = await res.text();
    let msg = text;
    try {
      msg = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not a JSON error body
    }
    throw new CandorError(res.status === 401 ? 'unauthenticated' : res.status === 403 ? 'permission_denied' : 'unavailable', `GET /v1/export: ${res.status} ${msg}`);
  }
  const start = Number(res.headers.get('candor-export-start') ?? 0);
  const end = Number(res.headers.get('candor-export-end') ?? 0);
  const total = end - start;
  let bytes = 0;
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    if (!o.out.write(chunk)) await once(o.out, 'drain');
    const i = lastIndex(decoder.decode(chunk.subarray(Math.max(0, chunk.length - 4096))));
    if (i !== undefined) o.onProgress?.(i < 0 ? -i - 1 : i + 1 - start, total);
  }
  o.onProgress?.(total, total);
  return { start, end, bytes };
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerExportCommands(program: Command): void {
  let c = program
    .command('export')
    .description('export a filtered range of events (ndjson, csv, or a signed bundle for verify-export), with a progress bar')
    .requiredOption('--url <url>', 'the log', process.env.CANDOR_URL ?? 'http://127.0.0.1:8080')
    .option('--token <token>', 'an auditor token with the export permission (env CANDOR_AUDITOR_TOKEN)', process.env.CANDOR_AUDITOR_TOKEN)
    .option('--format <format>', 'ndjson | csv | bundle', 'ndjson')
    .option('--out <file>', 'write here instead of stdout');
  for (const k of FILTER_KEYS) c = k === 'tenant' || k === 'type' ? c.option(`--${k} <value>`, `filter: ${k} (repeatable)`, collect) : c.option(`--${k} <value>`, `filter: ${k}`);
  c.action(
    run(async (o: Record<string, string | string[] | undefined> & { url: string; token?: string; format: string; out?: string }) => {
      if (!o.token) throw invalid('give --token (or set CANDOR_AUDITOR_TOKEN)');
      const filter: Record<string, string | string[]> = {};
      for (const k of FILTER_KEYS) if (o[k] !== undefined) filter[k] = o[k]!;
      const out = o.out ? createWriteStream(o.out) : process.stdout;
      const { SingleBar } = await import('cli-progress');
      const bar = o.out ? new SingleBar({ format: 'export [{bar}] {percentage}% | {value}/{total} entries read | {eta_buffer}s', etaBuffer: 50 }) : undefined;
      let started = false;
      const r = await downloadExport({
        url: o.url,
        token: o.token,
        format: o.format,
        filter,
        out,
        onProgress: (done, total) => {
          if (!bar) return;
          if (!started) bar.start(total, 0);
          started = true;
          bar.update(done);
        },
      });
      bar?.stop();
      if (o.out) {
        out.end();
        await once(out, 'finish');
        process.stderr.write(`exported entries ${r.start}..${r.end} (${r.bytes} bytes) to ${o.out}\n`);
      }
      return 0;
    }),
  );

  trustOptions(program.command('verify-export'), false)
    .description('verify a signed export bundle with no network: checkpoint and cosignatures, every event and its inclusion proof, the signed manifest')
    .argument('<file>', 'the bundle (.candor-export)')
    .option('--key <vkey>', 'verifier key of the log (repeatable; same as --log-key)', collect)
    .option('--witness <vkey>', 'cosignature/v1 key of a trusted witness (repeatable; same as --witness-key)', collect)
    .action(
      run(async (file: string, o: TrustOptions & { key?: string[]; witness?: string[] }) => {
        const trust: TrustOptions = { ...o, logKey: [...(o.logKey ?? []), ...(o.key ?? [])], witnessKey: [...(o.witnessKey ?? []), ...(o.witness ?? [])] };
        const verifiers = logVerifiers(trust);
        if (verifiers.length === 0) throw invalid('give the log verifier key with --key');
        const policy = witnessPolicy(trust);
        const v = await verifyExportFile(file, { logVerifiers: verifiers, ...(o.origin ? { origin: o.origin } : {}), ...(policy ? { policy } : {}) });
        const m = v.manifest;
        process.stdout.write(
          `export OK: ${v.count} events${m.first === undefined ? '' : ` (indexes ${m.first}..${m.last})`} proved against ${v.checkpoint.origin} size ${v.checkpoint.size}` +
            `${policy ? `, cosigned by ${v.cosigners.map((x) => x.name).join(', ') || 'no witness'} (policy: ${policy.description})` : ''}; manifest signed by the log\n`,
        );
        return 0;
      }),
    );
}
