/**
 * `candor erase`: erase a data subject's or a tenant's openings through a running log's API
 * (POST /v1/erasures), with an admin reader's token. Through the API rather than on the data
 * dir, so that the erasure is logged (audit.erasure.performed) by the log that holds the tree.
 *
 *   candor erase --tenant T [--subject S] --reason gdpr_art17 [--request-id ID] [--url U] [--token K]
 */
import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { CandorError, type ErrorCode } from '@candor/core/errors';

export function registerPrivacyCommands(program: Command, fail: (err: unknown) => never): void {
  program
    .command('erase')
    .description("erase a data subject's (or a whole tenant's) openings and keys, and log the erasure; every proof stays valid")
    .requiredOption('--tenant <id>', 'the tenant')
    .option('--subject <id>', "the data subject; without it, the whole tenant's openings are erased")
    .requiredOption('--reason <basis>', 'the legal basis, recorded in the log (e.g. gdpr_art17, retention_expired)')
    .option('--request-id <id>', 'the erasure request ID; retrying with the same ID is safe (default: a new UUID)')
    .option('--url <url>', 'the log (env CANDOR_URL)', process.env.CANDOR_URL ?? 'http://127.0.0.1:8080')
    // One name for the auditor's token in every command: CANDOR_AUDITOR_TOKEN (CANDOR_TOKEN is the
    // producer's, in the gateway examples); the old spelling still works, with a note.
    .option('--token <token>', 'an auditor token with the "erase" permission (env CANDOR_AUDITOR_TOKEN)', process.env.CANDOR_AUDITOR_TOKEN)
    .action(async (o: { tenant: string; subject?: string; reason: string; requestId?: string; url: string; token?: string }) => {
      try {
        if (!o.token && process.env.CANDOR_TOKEN) {
          process.stderr.write('candor: CANDOR_TOKEN is deprecated for auditor tokens; set CANDOR_AUDITOR_TOKEN\n');
          o.token = process.env.CANDOR_TOKEN;
        }
        if (!o.token) throw new CandorError('unauthenticated', 'give an auditor token with the "erase" permission: --token or CANDOR_AUDITOR_TOKEN');
        const requestId = o.requestId ?? randomUUID();
        const res = await fetch(`${o.url.replace(/\/$/, '')}/v1/erasures`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${o.token}` },
          body: JSON.stringify({ request_id: requestId, tenant_id: o.tenant, ...(o.subject !== undefined ? { subject_id: o.subject } : {}), legal_basis: o.reason }),
        });
        const body = (await res.json().catch(() => ({}))) as {
          error?: { code: ErrorCode; message: string };
          repeated?: boolean;
          keys_destroyed?: number;
          records_deleted?: number;
          commitments?: number;
          erasure_event_indexes?: number[];
        };
        if (!res.ok) throw new CandorError(body.error?.code ?? 'unavailable', body.error?.message ?? `the log answered HTTP ${res.status}`);
        process.stdout.write(
          [
            `erased ${o.subject !== undefined ? `subject ${o.subject} of ` : ''}tenant ${o.tenant}${body.repeated ? ' (already done: this request ID was erased before)' : ''}`,
            `  request ID     ${requestId}`,
            `  keys           ${body.keys_destroyed} destroyed`,
            `  openings       ${body.commitments} in ${body.records_deleted} event records deleted`,
            `  logged at      ${(body.erasure_event_indexes ?? []).join(', ')} (audit.erasure.performed)`,
            '',
          ].join('\n'),
        );
      } catch (err) {
        fail(err);
      }
    });
}
