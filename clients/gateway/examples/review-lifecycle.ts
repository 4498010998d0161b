/**
 * A gateway's day in one script: Alice asks to run an UPDATE on the production database, a DBA
 * approves, the gateway runs it in a session, a database trigger reports the IBAN it changed,
 * and a second, broader request is rejected. Every event goes through the SDK; every receipt is
 * verified as it arrives and once more at the end, offline, with the producer's signature.
 *
 *   npx tsx clients/gateway/examples/review-lifecycle.ts          # against a throwaway local log
 *
 * or against a running log (`candor serve --grpc 127.0.0.1:8081`, producer added with
 * `candor producer add gw-example --tenant org-1234 --type '*'`):
 *
 *   CANDOR_GRPC=127.0.0.1:8081 CANDOR_TOKEN=candor_pt_... CANDOR_VKEY="$(head -1 data/log.vkey)" \
 *   CANDOR_PRODUCER=gw-example [CANDOR_SKEY=PRIVATE+KEY+gw-example+...] npx tsx clients/gateway/examples/review-lifecycle.ts
 */
import { rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { toBase64 } from '@candor/core/bytes';
import { generateSignerKey, parseSignerKey } from '@candor/core/note';
import {
  CaptureMethod,
  ColumnOperation,
  GatewayClient,
  ReviewKind,
  SessionVerb,
  ValueClass,
  VoteDecision,
  verifyOpening,
  verifyReceipt,
  type Recorded,
} from '@candor/gateway';

interface Target {
  address: string;
  token: string;
  vkey: string;
  producer: string;
  skey?: string;
  stop(): Promise<void>;
}

/** A throwaway log in a temp dir, with this example's producer registered. */
async function localLog(): Promise<Target> {
  const { startLog } = await import('../../../src/app.js');
  const { CONFIG_DEFAULTS } = await import('../../../src/config.js');
  const { REGISTRY_FILE, newToken, updateRegistryFile } = await import('../../../src/producers/registry.js');
  const dir = mkdtempSync(join(tmpdir(), 'candor-example-'));
  const t = newToken();
  const key = generateSignerKey('gw-example');
  updateRegistryFile(join(dir, REGISTRY_FILE), (doc) => {
    doc.producers.push({ id: 'gw-example', tenants: ['org-1234'], eventTypes: ['*'], tokens: [t.record], mtls: [], keys: [key.vkey], disabled: false, created: new Date().toISOString() });
  });
  const log = await startLog({ ...CONFIG_DEFAULTS, data: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', origin: 'example.candor.dev/audit', logLevel: 'warn' });
  return {
    address: log.grpc!.address,
    token: t.token,
    vkey: log.keys.vkeys[0]!,
    producer: 'gw-example',
    skey: key.skey,
    async stop() {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function main(env: NodeJS.ProcessEnv = process.env, print: (line: string) => void = console.log): Promise<Recorded[]> {
  const target: Target = env.CANDOR_GRPC
    ? { address: env.CANDOR_GRPC, token: env.CANDOR_TOKEN ?? '', vkey: env.CANDOR_VKEY ?? '', producer: env.CANDOR_PRODUCER ?? 'gw-example', ...(env.CANDOR_SKEY ? { skey: env.CANDOR_SKEY } : {}), stop: async () => undefined }
    : await localLog();

  // The three lines it takes:
  const gw = new GatewayClient({ address: target.address, token: target.token, logKey: target.vkey, producer: target.producer, tenant: 'org-1234', ...(target.skey ? { signerKey: target.skey } : {}) });
  const recorded: Recorded[] = [];
  const show = (r: Recorded) => {
    recorded.push(r);
    const { receipt } = r;
    print(`${r.event.type.padEnd(28)} index ${String(receipt.index).padStart(3)}  tree ${String(receipt.treeSize).padStart(3)}  leaf ${toBase64(receipt.leafHash).slice(0, 16)}…  verified${receipt.duplicate ? ' (duplicate)' : ''}`);
    return r;
  };

  try {
    const alice = { id: 'usr_alice', display: 'alice@example.com', groups: ['developers'] };
    const bob = { id: 'usr_bob', display: 'bob@example.com', groups: ['dba-leads'] };
    const prod = { name: 'pg-prod-eu', type: 'database', subtype: 'postgres', account: 'hoop_rw', tags: { env: 'prod', pci: 'true' } };
    const web = { ip: '203.0.113.7', origin: 'webapp' };
    const update = "UPDATE accounts SET iban = 'DE89 3704 0044 0532 0130 00' WHERE id = 42";

    // A one-time command under review: requested, approved by one vote, executed, completed.
    show(await gw.review.requested({ actor: alice, source: web, resource: prod, reviewId: 'rev-1001', kind: ReviewKind.ONE_TIME_COMMAND, statement: update, justification: 'customer ticket OPS-4411', correlation: { ticket: 'OPS-4411' }, policy: { ruleName: 'prod-writes', requiredGroups: ['dba-leads'], minApprovals: 1 } }));
    const vote = show(await gw.review.voteCast({ actor: bob, source: { ip: '198.51.100.4', origin: 'slack' }, reviewId: 'rev-1001', group: 'dba-leads', decision: VoteDecision.APPROVE, channel: 'slack' }));
    show(await gw.review.approved({ actor: bob, reviewId: 'rev-1001', voteEventIds: [vote.event.eventId], validUntil: new Date(Date.now() + 3_600_000) }));
    show(await gw.review.executionStarted({ actor: alice, reviewId: 'rev-1001', executionSessionId: 'ses-77' }));
    show(await gw.session.started({ actor: alice, source: web, resource: prod, sessionId: 'ses-77', verb: SessionVerb.EXEC, protocol: 'postgres', reviewId: 'rev-1001' }));
    const stmt = show(await gw.statement.executed({ actor: alice, resource: prod, sessionId: 'ses-77', statement: update, operation: 'UPDATE', tables: ['accounts'], rows: 1, durationMs: 4 }));
    // The database's trigger saw the row change: old and new IBAN, committed, never sent.
    const change = show(
      await gw.column.changed({
        actor: alice,
        resource: prod,
        sessionId: 'ses-77',
        correlation: { reviewId: 'rev-1001', statementEventId: stmt.event.eventId },
        database: 'app',
        schema: 'public',
        table: 'accounts',
        column: 'iban',
        rowKey: 'rk_9f2c41',
        operation: ColumnOperation.UPDATE,
        oldValue: 'GB33 BUKB 2020 1555 5555 55',
        newValue: 'DE89 3704 0044 0532 0130 00',
        valueClass: ValueClass.PCI,
        captureMethod: CaptureMethod.DB_TRIGGER,
        dbAccount: 'hoop_rw',
        oldValueAuthoritative: true,
      }),
    );
    show(await gw.review.executionCompleted({ actor: alice, reviewId: 'rev-1001', executionSessionId: 'ses-77', exitCode: 0, rows: 1 }));
    show(await gw.session.ended({ actor: alice, resource: prod, sessionId: 'ses-77', exitCode: 0, durationMs: 5200 }));

    // A broader request, rejected.
    show(await gw.review.requested({ actor: alice, source: web, resource: prod, reviewId: 'rev-1002', kind: ReviewKind.JIT_SESSION, requestedDurationMs: 8 * 3_600_000, justification: 'need to look around' }));
    show(await gw.review.voteCast({ actor: bob, reviewId: 'rev-1002', group: 'dba-leads', decision: VoteDecision.REJECT, reason: 'too broad: ask for the tables you need' }));
    show(await gw.review.rejected({ actor: bob, reviewId: 'rev-1002', reason: 'too broad' }));

    // Resubmitting an event (a gateway retrying after a crash) returns its first receipt.
    show(await gw.record(recorded[0]!.event));

    // An auditor, later and offline: every receipt, the producer's signature in every leaf.
    const producerKey = target.skey ? parseSignerKey(target.skey).vkey : undefined;
    for (const r of recorded) verifyReceipt(r.receipt, [target.vkey], producerKey ? { producerKey } : {});
    print(`\n${recorded.length} receipts re-verified offline (checkpoint signature, inclusion${producerKey ? ', producer signature' : ''})`);

    // And discloses one field: the new IBAN, opened against its commitment in the logged event.
    const body = change.event.body.value as { newValueCommitment: Uint8Array };
    const opening = change.openings.find((o) => o.field === 'new_value')!;
    print(`opening of column_change.new_value ${verifyOpening(body.newValueCommitment, opening) ? 'matches' : 'DOES NOT MATCH'} the logged commitment: ${new TextDecoder().decode(opening.value)}`);
    return recorded;
  } finally {
    await gw.close();
    await target.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
