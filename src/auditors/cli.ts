/**
 * `candor auditor ...`: register the readers who may search, export, read timelines, disclose
 * openings or erase. Every command edits <data>/auditors.json atomically; a running log picks the
 * change up within a second. Tokens are printed once and stored only as hashes.
 *
 *   auditor add ID --tenant T... --permission search|export|disclose|erase|read-log...
 *   auditor list [--json]
 *   auditor revoke ID [TOKEN-ID]      one token, or all of them (the auditor can no longer read)
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { CandorError } from '@candor/core/errors';
import { existingDataDir } from '../data-dir.js';
import { PERMISSIONS, type Permission } from '../query/access.js';

// Loaded by run(): the registry pulls in the producers' (and generated protobuf) code, which
// `candor --help` should not pay for.
let registry: typeof import('./registry.js');

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface DataOpt {
  data: string;
}

const withData = (c: Command): Command => c.option('--data <dir>', 'the log data directory (env CANDOR_DATA)', process.env.CANDOR_DATA ?? './data');
/** The registry file, in a data directory that must exist (see ../data-dir.ts). */
function file(o: DataOpt): string {
  return join(existingDataDir(o.data), registry.AUDITORS_FILE);
}

/** Adds `candor auditor ...`; `io.out` receives what the commands print (default stdout). */
export function registerAuditorRegistryCommands(program: Command, io: { out?: (s: string) => void } = {}): void {
  const out = (s: string) => (io.out ?? ((x: string) => void process.stdout.write(x)))(s.endsWith('\n') ? s : `${s}\n`);
  // A refused command is not a usage mistake: "candor: <reason>", exit code 1, no help text.
  const run =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    async (...args: A) => {
      try {
        registry = await import('./registry.js');
        fn(...args);
      } catch (err) {
        if (!(err instanceof CandorError)) throw err;
        program.showHelpAfterError(false);
        program.error(`candor: ${err.message}`, { exitCode: 1, code: `candor.${err.code}` });
      }
    };
  const auditor = program.command('auditor').description('register and manage auditors: who may search, export and read review timelines');

  withData(auditor.command('add'))
    .description('register an auditor; prints its bearer token once')
    .argument('<id>', 'a pseudonymous auditor ID, recorded in the audit-of-audit events of its reads')
    .option('--tenant <tenant>', 'a tenant it may read, or "*"; repeatable', collect)
    .option('--permission <p>', `${PERMISSIONS.join(' | ')}; repeatable`, collect)
    .option('--description <text>', 'a note for operators')
    .action(
      run((id: string, o: DataOpt & { tenant?: string[]; permission?: string[]; description?: string }) => {
        const t = registry.newAuditorToken();
        registry.updateAuditorsFile(file(o), (doc) => {
          if (doc.auditors.some((a) => a.id === id)) throw new CandorError('conflict', `auditor ${JSON.stringify(id)} already exists`);
          doc.auditors.push({
            id,
            ...(o.description ? { description: o.description } : {}),
            tenants: o.tenant ?? [],
            permissions: (o.permission ?? []) as Permission[],
            tokens: [t.record],
            disabled: false,
            created: new Date().toISOString(),
          });
        });
        out(`auditor ${id} added\ntoken (shown once; send it as "Authorization: Bearer <token>"):\n${t.token}`);
      }),
    );

  withData(auditor.command('list'))
    .description('list auditors, their tenants, permissions and token IDs')
    .option('--json', 'print the registry as JSON (token hashes included)')
    .action(
      run((o: DataOpt & { json?: boolean }) => {
        const doc = registry.readAuditorsFile(file(o));
        if (o.json) return out(JSON.stringify(doc.auditors, null, 2));
        if (doc.auditors.length === 0) return out('no auditors (add one with "candor auditor add")');
        for (const a of doc.auditors) {
          const tokens = a.tokens.length === 0 ? 'none (revoked)' : a.tokens.map((t) => t.id).join(', ');
          out(`${a.id}${a.disabled ? ' (DISABLED)' : ''}  tenants ${a.tenants.join(', ')}  permissions ${a.permissions.join(', ')}  tokens ${tokens}`);
        }
      }),
    );

  withData(auditor.command('revoke'))
    .description("revoke one of an auditor's tokens, or all of them")
    .argument('<id>')
    .argument('[token-id]', 'the token to revoke (see "auditor list"); all tokens when omitted')
    .action(
      run((id: string, tokenId: string | undefined, o: DataOpt) => {
        const left = registry.updateAuditorsFile(file(o), (doc) => {
          const a = doc.auditors.find((x) => x.id === id);
          if (!a) throw new CandorError('not_found', `no auditor ${JSON.stringify(id)} (see "candor auditor list")`);
          if (tokenId !== undefined && !a.tokens.some((t) => t.id === tokenId)) throw new CandorError('not_found', `auditor ${id} has no token ${tokenId}`);
          a.tokens = tokenId === undefined ? [] : a.tokens.filter((t) => t.id !== tokenId);
          return a.tokens.length;
        });
        out(`${tokenId === undefined ? 'all tokens' : `token ${tokenId}`} of ${id} revoked${left === 0 ? `; ${id} can no longer read` : ''}`);
      }),
    );
}
