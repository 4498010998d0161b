/**
 * `candor backup` and `candor restore` (docs/operations.md, "Backup and restore").
 *
 *   candor backup --data D --out DIR [--admin URL]
 *   candor restore --from DIR --data D [--catch-up URL|DIR] [--token T] [--checkpoint FILE]... [--size N]
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CandorError, type ErrorCode } from '@candor/core/errors';
import { existingDataDir } from '../data-dir.js';

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Whether opening LevelDB failed because another process (a serving log) holds its lock. */
function locked(err: unknown): boolean {
  for (let e = err as { code?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) if (e.code === 'LEVEL_LOCKED') return true;
  return false;
}

async function backupThroughAdmin(admin: string, out: string): Promise<{ size: number; origin: string; contents: string[] }> {
  const url = `${admin.replace(/\/+$/, '')}/v1/admin/backup`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ out }) });
  } catch (err) {
    throw new CandorError('unavailable', `POST ${url}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { error?: { code: ErrorCode; message: string }; size: number; origin: string; contents: string[] };
  if (!res.ok) throw new CandorError(body.error?.code ?? 'unavailable', `the log answered HTTP ${res.status}: ${body.error?.message ?? ''}`);
  return body;
}

export function registerBackupCommands(program: Command, fail: (err: unknown) => never): void {
  program
    .command('backup')
    .description('copy a log (store, openings, registries, keys) consistently into a new directory; a running log is copied by itself, through its admin listener')
    .option('--data <dir>', 'data directory of a stopped log (env CANDOR_DATA; default ./data)')
    .requiredOption('--out <dir>', 'the backup directory to create (new or empty); it holds the signing key: keep it as safe as the data directory')
    .option('--admin <url>', "a running log's admin listener (config admin), e.g. http://127.0.0.1:8090: the log writes the backup on its host")
    .action(async (o: { data?: string; out: string; admin?: string }) => {
      try {
        const out = resolve(o.out);
        let m: { size: number; origin: string; contents: string[] };
        if (o.admin) m = await backupThroughAdmin(o.admin, out);
        else {
          const data = existingDataDir(o.data ?? process.env.CANDOR_DATA ?? './data');
          const { LevelStore } = await import('../storage/level.js');
          const { writeBackup } = await import('./backup.js');
          let store;
          try {
            store = await LevelStore.open(join(data, 'db'));
          } catch (err) {
            if (locked(err)) throw new CandorError('unavailable', `the log store at ${join(data, 'db')} is in use: the log is running. Back it up through its admin listener: candor backup --admin http://HOST:PORT --out ${out}`);
            throw err;
          }
          m = await writeBackup({ store, dataDir: data, out }).finally(() => store.close());
        }
        process.stdout.write(`backup of "${m.origin}" at tree size ${m.size} written to ${out} (${m.contents.join(', ')})\n`);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('restore')
    .description('restore a backup into a new data directory, caught up to what the log has published and with logged erasures replayed')
    .requiredOption('--from <dir>', 'the backup directory (candor backup --out)')
    .requiredOption('--data <dir>', 'the data directory to restore into (new or empty)')
    .option('--catch-up <url-or-dir>', "a copy of the log's entries since the backup: a tlog-tiles URL (a mirror, the log's read side) or a directory in tlog-tiles layout")
    .option('--token <token>', 'a reader token with read-log for the copy\'s entry bundles (env CANDOR_AUDITOR_TOKEN)', process.env.CANDOR_AUDITOR_TOKEN)
    .option('--checkpoint <file>', 'a checkpoint note of this log known published (from a witness, monitor, gateway); repeatable', collect)
    .option('--size <n>', 'a tree size known published (e.g. the size a witness answered 409 with)')
    .option('--key <file>', 'signer key file kept outside the data directory (config keys); repeatable', collect)
    .option('--privacy-key-file <file>', 'the openings master key, when kept outside the data directory (config privacyKeyFile)')
    .action(async (o: { from: string; data: string; catchUp?: string; token?: string; checkpoint?: string[]; size?: string; key?: string[]; privacyKeyFile?: string }) => {
      try {
        const minSize = o.size === undefined ? undefined : Number(o.size);
        if (minSize !== undefined && (!/^(0|[1-9][0-9]*)$/.test(o.size!) || !Number.isSafeInteger(minSize))) throw new CandorError('invalid_argument', `--size must be a tree size (a decimal integer), got ${JSON.stringify(o.size)}`);
        const { restore } = await import('./restore.js');
        const r = await restore({
          from: o.from,
          data: o.data,
          ...(o.catchUp !== undefined ? { catchUp: o.catchUp } : {}),
          ...(o.token !== undefined ? { token: o.token } : {}),
          checkpoints: (o.checkpoint ?? []).map((f) => ({ note: readFileSync(f, 'utf8'), source: `the checkpoint in ${f}` })),
          ...(minSize !== undefined ? { minSize } : {}),
          ...(o.key ? { keyFiles: o.key } : {}),
          ...(o.privacyKeyFile ? { privacyKeyFile: o.privacyKeyFile } : {}),
        });
        process.stdout.write(
          [
            `restored "${r.origin}" into ${o.data}`,
            `  backup size    ${r.backupSize}`,
            `  tree size      ${r.size}${r.appended > 0 ? ` (${r.appended} entries caught up from ${o.catchUp}, checked against the signed root)` : ''}`,
            `  known size     ${r.required.size} (${r.required.source})`,
            `  erasures       ${r.erasures.requests} logged since the backup; ${r.erasures.keys} keys and ${r.erasures.records} records erased again`,
            ...(r.appended === 0 && o.catchUp === undefined ? ['  note           nothing showed a larger tree; if the log published past the backup, its witnesses and gateways will make it refuse to sequence: restore again with --catch-up'] : []),
            '',
          ].join('\n'),
        );
      } catch (err) {
        fail(err);
      }
    });
}
