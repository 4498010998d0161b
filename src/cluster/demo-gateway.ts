/**
 * A demo access gateway: a steady stream of realistic audit events through the gateway SDK, the
 * way hoop.dev or Teleport would write them. Users connect to databases and run queries; some
 * statements are denied by a guardrail; some writes go through a review (requested, approved by a
 * DBA, executed in a session). Every receipt is verified by the SDK as it arrives.
 *
 * It paces itself to `eventsPerSecond` and keeps going when the log is away (the SDK retries);
 * SIGTERM or SIGINT finishes the event in hand and exits.
 */
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeDigest, nodeHasher, nodeEd25519 } from '../crypto/node.js';
import { GatewayClient, ReviewKind, SessionVerb, VoteDecision, type Recorded } from '@candor/gateway';
import type { ResourceInit } from '@candor/gateway/events';

export interface DemoGatewayOptions {
  address: string;
  token: string;
  logVkey: string;
  producer: string;
  signerKey: string;
  tenant: string;
  eventsPerSecond: number;
  signal: AbortSignal;
  /** Called every few seconds with the counts so far. */
  report?: (s: { events: number; treeSize: number; failures: number }) => void;
}

const USERS = [
  { id: 'usr_alice', display: 'alice@example.com', groups: ['developers'] },
  { id: 'usr_carol', display: 'carol@example.com', groups: ['data-science'] },
  { id: 'usr_dave', display: 'dave@example.com', groups: ['support'] },
];
const DBA = { id: 'usr_bob', display: 'bob@example.com', groups: ['dba-leads'] };
const RESOURCES: Array<ResourceInit & { subtype: string }> = [
  { name: 'pg-prod-eu', type: 'database', subtype: 'postgres', account: 'hoop_ro', tags: { env: 'prod', pci: 'true' } },
  { name: 'mysql-billing', type: 'database', subtype: 'mysql', account: 'readonly', tags: { env: 'prod' } },
  { name: 'pg-staging', type: 'database', subtype: 'postgres', account: 'dev', tags: { env: 'staging' } },
];
const QUERIES = [
  { sql: 'SELECT id, status FROM orders WHERE created_at > now() - interval $1', op: 'SELECT', tables: ['orders'] },
  { sql: 'SELECT count(*) FROM invoices WHERE customer_id = $1', op: 'SELECT', tables: ['invoices'] },
  { sql: 'SELECT email FROM customers WHERE id = $1', op: 'SELECT', tables: ['customers'] },
  { sql: 'EXPLAIN ANALYZE SELECT * FROM payments WHERE amount > $1', op: 'EXPLAIN', tables: ['payments'] },
];

const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)]!;
const id = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomInt(1 << 30).toString(36)}`;

export async function runDemoGateway(o: DemoGatewayOptions): Promise<{ events: number }> {
  const gw = new GatewayClient({
    address: o.address,
    token: o.token,
    logKey: o.logVkey,
    producer: o.producer,
    tenant: o.tenant,
    signerKey: o.signerKey,
    producerInfo: { kind: 'candor-demo-gateway', version: '1', instance: o.producer },
    ed25519: nodeEd25519,
    hasher: nodeHasher,
    digest: nodeDigest,
  });
  let events = 0;
  let failures = 0;
  let treeSize = 0;
  const started = Date.now();
  let lastReport = started;
  /** Records one event, then waits as long as the stream is ahead of its rate. */
  const record = async (pending: Promise<Recorded>): Promise<Recorded> => {
    const r = await pending;
    treeSize = Math.max(treeSize, r.receipt.treeSize);
    events++;
    const due = started + (events / o.eventsPerSecond) * 1000;
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      o.report?.({ events, treeSize, failures });
    }
    if (due > Date.now() && !o.signal.aborted) await sleep(due - Date.now(), undefined, { signal: o.signal }).catch(() => undefined);
    return r;
  };

  const session = async () => {
    const actor = pick(USERS);
    const resource = pick(RESOURCES);
    const sessionId = id('ses');
    const source = { ip: `203.0.113.${randomInt(2, 250)}`, origin: pick(['cli', 'webapp']) };
    await record(gw.session.started({ actor, source, resource, sessionId, verb: SessionVerb.CONNECT, protocol: resource.subtype }));
    for (let i = randomInt(1, 5); i > 0 && !o.signal.aborted; i--) {
      const q = pick(QUERIES);
      await record(gw.statement.executed({ actor, resource, sessionId, statement: q.sql, params: String(randomInt(1, 99999)), operation: q.op, tables: q.tables, rows: randomInt(0, 500), durationMs: randomInt(1, 80) }));
    }
    if (randomInt(4) === 0) {
      await record(gw.statement.denied({ actor, resource, sessionId, statement: 'DELETE FROM customers', rule: 'no-unbounded-delete', operation: 'DELETE', message: 'DELETE without WHERE is blocked' }));
    }
    await record(gw.session.ended({ actor, resource, sessionId, exitCode: 0, durationMs: randomInt(1000, 600_000) }));
  };

  const reviewedWrite = async () => {
    const actor = pick(USERS);
    const resource = { ...RESOURCES[0]!, account: 'hoop_rw' };
    const reviewId = id('rev');
    const sessionId = id('ses');
    const update = `UPDATE orders SET status = 'refunded' WHERE id = ${randomInt(1, 1_000_000)}`;
    await record(gw.review.requested({ actor, source: { ip: '203.0.113.7', origin: 'webapp' }, resource, reviewId, kind: ReviewKind.ONE_TIME_COMMAND, statement: update, justification: `ticket OPS-${randomInt(1000, 9999)}`, policy: { ruleName: 'prod-writes', requiredGroups: ['dba-leads'], minApprovals: 1 } }));
    const vote = await record(gw.review.voteCast({ actor: DBA, reviewId, group: 'dba-leads', decision: VoteDecision.APPROVE, channel: 'slack' }));
    await record(gw.review.approved({ actor: DBA, reviewId, voteEventIds: [vote.event.eventId], validUntil: new Date(Date.now() + 3_600_000) }));
    await record(gw.review.executionStarted({ actor, reviewId, executionSessionId: sessionId }));
    await record(gw.session.started({ actor, source: { ip: '203.0.113.7', origin: 'webapp' }, resource, sessionId, verb: SessionVerb.EXEC, protocol: 'postgres', reviewId }));
    await record(gw.statement.executed({ actor, resource, sessionId, statement: update, operation: 'UPDATE', tables: ['orders'], rows: 1, durationMs: randomInt(1, 20) }));
    await record(gw.review.executionCompleted({ actor, reviewId, executionSessionId: sessionId, exitCode: 0, rows: 1 }));
    await record(gw.session.ended({ actor, resource, sessionId, exitCode: 0, durationMs: randomInt(100, 5000) }));
  };

  const deniedConnect = async () => {
    await record(gw.session.denied({ actor: pick(USERS), resource: pick(RESOURCES), source: { ip: '198.51.100.23', origin: 'cli' }, reason: 'outside business hours', rule: 'prod-hours' }));
  };

  try {
    while (!o.signal.aborted) {
      const scenario = pick([session, session, session, reviewedWrite, deniedConnect]);
      try {
        await scenario();
      } catch (err) {
        // The SDK retried what can be retried; anything else is reported, and the stream goes on.
        failures++;
        o.report?.({ events, treeSize, failures });
        process.stderr.write(`demo gateway: ${(err as Error).message}\n`);
        await sleep(1000, undefined, { signal: o.signal }).catch(() => undefined);
      }
    }
  } finally {
    await gw.close();
  }
  return { events };
}
