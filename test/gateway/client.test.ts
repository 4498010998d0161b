// The gateway SDK against a real log: receipts that verify offline, commitments that open,
// session digests an auditor recomputes from the log, batching, backpressure, and refusing
// answers that do not verify.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clone, fromBinary } from '@bufbuild/protobuf';
import { equal } from '@candor/core/bytes';
import { portableHasher } from '@candor/core/hash';
import { generateSignerKey, type Ed25519 } from '@candor/core/note';
import { nodeDigest, nodeEd25519, nodeHasher } from '../../src/crypto/node.js';
import { eventHash } from '@candor/schema/encoding';
import { parseEventLeaf } from '@candor/schema/leaf';
import { eventsRoot } from '@candor/schema/signature';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import { SubmitBatchResponseSchema, type SubmitBatchRequest, type SubmitBatchResponse } from '@candor/schema/gen/candor/v1/log_service_pb';
import {
  CaptureMethod,
  ColumnOperation,
  GatewayClient,
  GrpcTransport,
  ReviewKind,
  SessionVerb,
  ValueClass,
  VoteDecision,
  verifyOpening,
  ulid,
  verifyReceipt,
  type GatewayOptions,
} from '@candor/gateway';
import { startEventLog, type EventLog } from '../grpc/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let log: EventLog;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  log = await startEventLog([{ id: 'gw', signed: true, tenants: ['org-1'] }]);
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await log?.cleanup();
});

function gateway(over: Partial<GatewayOptions> = {}): GatewayClient {
  const c = new GatewayClient({ address: log.address, token: log.creds.gw!.token, signerKey: log.creds.gw!.skey!, producer: 'gw', tenant: 'org-1', logKey: log.keys.vkeys, ...over });
  clients.push(c);
  return c;
}

const alice = { id: 'usr_alice', display: 'alice@example.com' };
const prod = { name: 'pg-prod', type: 'database', tags: { env: 'prod' } };
const src = { ip: '203.0.113.9' };

/** Every event of the log, decoded, by index. */
async function loggedEvents(): Promise<{ index: number; event: Event; bytes: Uint8Array }[]> {
  const entries = await log.service.entries({ start: 0 });
  return entries.map((e) => {
    const leaf = parseEventLeaf(e.data);
    return { index: e.index, event: fromBinary(EventSchema, leaf.event), bytes: leaf.event };
  });
}


/** A transport that passes each SubmitBatch to `real` and changes its answer with `change`. */
const tampering = (real: GrpcTransport) => (change: (r: SubmitBatchResponse) => void) => ({
  submitBatch: async (r: SubmitBatchRequest) => {
    const res = clone(SubmitBatchResponseSchema, await real.submitBatch(r));
    change(res);
    return res;
  },
  close: () => undefined,
});
describe('the gateway SDK', () => {
  it('records a review lifecycle and a column change; receipts re-verify offline with the producer signature', async () => {
    const gw = gateway();
    const update = 'UPDATE accounts SET iban = $1 WHERE id = 42';
    const req = await gw.review.requested({ actor: alice, resource: prod, source: src, reviewId: 'rev-1', kind: ReviewKind.ONE_TIME_COMMAND, statement: update, justification: 'OPS-1' });
    const vote = await gw.review.voteCast({ actor: { id: 'usr_bob' }, reviewId: 'rev-1', group: 'dba', decision: VoteDecision.APPROVE });
    const ok = await gw.review.approved({ actor: { id: 'usr_bob' }, reviewId: 'rev-1', voteEventIds: [vote.event.eventId] });
    const started = await gw.review.executionStarted({ actor: alice, reviewId: 'rev-1', executionSessionId: 'ses-9' });
    const done = await gw.review.executionCompleted({ actor: alice, reviewId: 'rev-1', executionSessionId: 'ses-9', exitCode: 0 });
    const change = await gw.column.changed({
      actor: alice,
      resource: prod,
      database: 'app',
      table: 'accounts',
      column: 'iban',
      rowKey: 'rk_1',
      operation: ColumnOperation.UPDATE,
      oldValue: 'GB33 BUKB',
      newValue: 'DE89 3704',
      valueClass: ValueClass.PCI,
      captureMethod: CaptureMethod.LOGICAL_DECODING,
      dbAccount: 'hoop_rw',
    });
    const all = [req, vote, ok, started, done, change];
    for (const r of all) {
      const v = verifyReceipt(r.receipt, log.keys.vkeys, { producerKey: log.creds.gw!.vkey! });
      expect(v.event).toEqual(r.event);
      expect(v.leaf.producer).toBe('gw');
    }
    // "Executed what was approved": the execution events carry the request's statement commitment.
    const requested = (req.event.body.value as { statement: { commitment: Uint8Array } }).statement.commitment;
    for (const e of [started, done]) expect(equal((e.event.body.value as { statementCommitment: Uint8Array }).statementCommitment, requested)).toBe(true);
    const opening = req.openings.find((o) => o.field === 'statement')!;
    expect(new TextDecoder().decode(opening.value)).toBe(update);
    expect(verifyOpening(requested, opening)).toBe(true);
    // The IBANs never reach the log; their openings verify against the logged commitments.
    const leafBytes = Buffer.from(change.receipt.leaf);
    expect(leafBytes.includes(Buffer.from('DE89 3704'))).toBe(false);
    const body = change.event.body.value as { oldValueCommitment: Uint8Array; newValueCommitment: Uint8Array };
    expect(verifyOpening(body.newValueCommitment, change.openings.find((o) => o.field === 'new_value')!)).toBe(true);
    expect(verifyOpening(body.oldValueCommitment, change.openings.find((o) => o.field === 'old_value')!)).toBe(true);
    // A receipt altered in storage no longer verifies.
    const bad = { ...change.receipt, leaf: change.receipt.leaf.map((b, i) => (i === change.receipt.leaf.length - 1 ? b ^ 1 : b)) };
    expect(() => verifyReceipt(bad, log.keys.vkeys)).toThrow(/does not hash/);
  });

  it.each([
    ['the portable crypto', false],
    ["node:crypto's", true],
  ])('seals a session with a digest an auditor recomputes from the log (%s)', async (_, node) => {
    let digests = 0;
    const sid = `ses-digest-${node}`;
    const gw = gateway(node ? { ed25519: nodeEd25519, hasher: nodeHasher, digest: (d) => (digests++, nodeDigest(d)) } : {});
    await gw.session.started({ actor: alice, resource: prod, source: src, sessionId: sid, verb: SessionVerb.CONNECT });
    await Promise.all([1, 2, 3, 4].map((i) => gw.statement.executed({ actor: alice, resource: prod, sessionId: sid, statement: `select ${i}` })));
    await gw.statement.denied({ actor: alice, resource: prod, sessionId: sid, statement: 'drop table accounts', rule: 'no-ddl' });
    const end = await gw.session.ended({ actor: alice, resource: prod, sessionId: sid, exitCode: 0 });
    // Each event's hash goes into the session digest and into its batch's signature.
    if (node) expect(digests).toBeGreaterThanOrEqual(6 + 7);
    const sealed = end.event.body.value as { eventCount: bigint; statementCount: bigint; deniedCount: bigint; streamDigest: Uint8Array };
    expect([sealed.eventCount, sealed.statementCount, sealed.deniedCount]).toEqual([6n, 4n, 1n]);
    // The auditor: the session's events from the log, in seq order, hashed, Merkle-rooted.
    const session = (await loggedEvents()).filter((e) => e.event.sessionId === sid && e.event.type !== 'session.ended');
    session.sort((a, b) => Number(a.event.seq - b.event.seq));
    expect(session.map((e) => Number(e.event.seq))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Number(end.event.seq)).toBe(7);
    expect(equal(eventsRoot(portableHasher, session.map((e) => eventHash(e.bytes))), sealed.streamDigest)).toBe(true);
  });

  it('batches concurrent events into few requests', async () => {
    const calls: number[] = [];
    const real = new GrpcTransport({ address: log.address, token: log.creds.gw!.token });
    const gw = gateway({ batch: { maxEvents: 100, lingerMs: 20 }, transport: { submitBatch: (r: SubmitBatchRequest) => (calls.push(r.events.length), real.submitBatch(r)), close: () => real.close() } });
    const size = log.service.size;
    const results = await Promise.all(Array.from({ length: 450 }, (_, i) => gw.producerEvents.heartbeat({ eventsSinceLast: i })));
    expect(log.service.size).toBe(size + 450);
    expect(calls.reduce((a, b) => a + b, 0)).toBe(450);
    expect(calls.length).toBeLessThanOrEqual(6);
    expect(new Set(results.map((r) => r.receipt.index)).size).toBe(450);
  });

  it('sends events that lingered while every request was in flight as soon as one is answered', async () => {
    const real = new GrpcTransport({ address: log.address, token: log.creds.gw!.token });
    const sentAt: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const transport = {
      submitBatch: async (r: SubmitBatchRequest) => {
        sentAt.push(performance.now());
        if (sentAt.length === 1) await held;
        return real.submitBatch(r);
      },
      close: () => real.close(),
    };
    const gw = gateway({ batch: { maxInFlight: 1, lingerMs: 400 }, transport });
    const first = gw.producerEvents.heartbeat();
    await sleep(500); // the first went out after its linger and is held: the only slot is busy
    const second = gw.producerEvents.heartbeat();
    await sleep(500); // the second's linger is up while it waits for the slot
    const releasedAt = performance.now();
    release();
    await Promise.all([first, second]);
    expect(sentAt).toHaveLength(2);
    // Not a linger later: the slot's answer sends it.
    expect(sentAt[1]! - releasedAt).toBeLessThan(150);
  });

  it('applies backpressure: record waits while the buffer is full', async () => {
    const real = new GrpcTransport({ address: log.address, token: log.creds.gw!.token });
    let maxSeen = 0;
    const slow = { submitBatch: async (r: SubmitBatchRequest) => (await new Promise((res) => setTimeout(res, 30)), real.submitBatch(r)), close: () => real.close() };
    const gw = gateway({ batch: { maxEvents: 5, maxBuffered: 10, maxInFlight: 1, lingerMs: 1 }, transport: slow });
    const pending = Array.from({ length: 60 }, () => {
      maxSeen = Math.max(maxSeen, gw.buffered);
      return gw.producerEvents.heartbeat();
    });
    const watcher = setInterval(() => (maxSeen = Math.max(maxSeen, gw.buffered)), 2);
    await Promise.all(pending);
    clearInterval(watcher);
    expect(maxSeen).toBeLessThanOrEqual(10);
    expect(gw.buffered).toBe(0);
  });

  it('gives events ULIDs: time first, then random characters, never repeated across refills of the random pool', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => ulid(1_700_000_000_000 + i));
    expect(ids.every((id) => /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(10))).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });

  it('rejects invalid events before sending them, with the log\'s own message', async () => {
    const gw = gateway();
    await expect(gw.session.started({ actor: alice, resource: prod, sessionId: 's', verb: SessionVerb.EXEC })).rejects.toThrow(/event\.source is required for session\.started/);
    await expect(gateway({ tenant: undefined }).producerEvents.heartbeat()).rejects.toThrow(/tenant_id is required/);
  });

  it('verifies checkpoints with the Ed25519 code it is given, and still refuses a bad signature', async () => {
    // A gateway on Node passes node:crypto's Ed25519 (~10x noble); checkpoints must use it too.
    let verified = 0;
    const counting: Ed25519 = { ...nodeEd25519, verify: (sig, msg, pub) => (verified++, nodeEd25519.verify(sig, msg, pub)) };
    const gw = gateway({ ed25519: counting });
    const { receipt } = await gw.producerEvents.heartbeat();
    expect(verified).toBeGreaterThan(0);
    expect(verifyReceipt(receipt, log.keys.vkeys).checkpoint.size).toBe(receipt.treeSize);

    const refusing = gateway({ ed25519: { ...nodeEd25519, verify: () => false } });
    await expect(refusing.producerEvents.heartbeat()).rejects.toMatchObject({ code: 'verification_failed' });
  });

  it('refuses answers that do not verify, and does not retry them', async () => {
    const real = new GrpcTransport({ address: log.address, token: log.creds.gw!.token });
    const tamper = tampering(real);
    const other = generateSignerKey('test.example/log');
    const { signNote } = await import('@candor/core/note');
    const { parseSignerKey } = await import('@candor/core/note');
    const cases: [(r: SubmitBatchResponse) => void, RegExp][] = [
      [(r) => (r.acks[0]!.inclusionProof[0] = new Uint8Array(32)), /inclusion proof/],
      [(r) => (r.acks[0]!.leafHash = new Uint8Array(32)), /leaf hash/],
      [(r) => (r.acks[0]!.receivedAt!.nanos += 1000), /leaf hash/],
      [(r) => (r.producer = 'gw-other'), /recorded producer gw-other/],
      [(r) => (r.checkpoint = signNote(r.checkpoint.slice(0, r.checkpoint.indexOf('\n\n') + 1), [parseSignerKey(other.skey).signer])), /no signature from a known key|invalid signature/],
      [(r) => r.acks.pop(), /answered 0 acknowledgements for 1 events/],
    ];
    for (const [change, message] of cases) {
      const gw = gateway({ transport: tamper(change) });
      await expect(gw.producerEvents.heartbeat()).rejects.toMatchObject({ code: 'verification_failed', message: expect.stringMatching(message) });
    }
    real.close();
  });

  it('refuses a whole batch when one receipt in it does not verify (its proofs are checked together)', async () => {
    const real = new GrpcTransport({ address: log.address, token: log.creds.gw!.token });
    const tamper = tampering(real);
    const top = (p: Uint8Array[]) => p.length - 1;
    const cases: [(r: SubmitBatchResponse) => void, RegExp][] = [
      // The top sibling of one proof: every other proof computes the same nodes below it.
      [(r) => (r.acks[5]!.inclusionProof[top(r.acks[5]!.inclusionProof)]![0]! ^= 1), /claim 5 .*inclusion proof does not lead to the root/],
      [(r) => (r.acks[2]!.inclusionProof = r.acks[3]!.inclusionProof), /claim 2 \(/],
      [(r) => (r.acks[7]!.index += 1n), /claim 7 /],
      [(r) => r.acks[4]!.inclusionProof.pop(), /claim 4 .*too short/],
    ];
    for (const [change, message] of cases) {
      const gw = gateway({ batch: { maxEvents: 8, lingerMs: 200 }, transport: tamper(change) });
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => gw.producerEvents.heartbeat()));
      for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'verification_failed', message: expect.stringMatching(message) } });
    }
    // Untampered, the same batch verifies.
    const gw = gateway({ batch: { maxEvents: 8, lingerMs: 200 }, transport: tamper(() => undefined) });
    const ok = await Promise.all(Array.from({ length: 8 }, () => gw.producerEvents.heartbeat()));
    expect(new Set(ok.map((r) => r.receipt.treeSize)).size).toBe(1);
    real.close();
  });
});
