/**
 * The shared corpus of clients/go: events recorded through the TypeScript gateway SDK with fixed
 * salts, IDs and times, and the event bytes, leaves and leaf hashes the SDK produced for them.
 * The Go client must produce the same bytes from the same inputs (clients/go/corpus_test.go);
 * test/clients/go-corpus.test.ts regenerates this file's output and compares it with corpus.json.
 *
 *   npx tsx clients/go/testdata/corpus.ts > clients/go/testdata/corpus.json
 *
 * The SDK's transport is replaced by a log in a few lines: it answers the single batch with leaves
 * built from docs/leaf-format.md, one signed checkpoint and RFC 9162 proofs. The SDK rebuilds each
 * leaf itself and accepts the answer only if its leaf hashes to the one acknowledged, so the
 * leaves written out are the SDK's own.
 */
import { writeSync } from 'node:fs';
import { concat, putU64be, toHex, utf8 } from '@candor/core/bytes';
import { formatCheckpoint } from '@candor/core/checkpoint';
import { portableHasher as H } from '@candor/core/hash';
import { generateSignerKey, parseSignerKey, signNote } from '@candor/core/note';
import { sha256 } from '@noble/hashes/sha2.js';
import { GatewayClient, statementFingerprint } from '@candor/gateway';
import { normalizeStatement } from '@candor/schema/commitment';
import { EVENT_TYPES, protoName } from '@candor/schema/types';

/** Each case: the SDK method (gw.<kind>) and its argument, in JSON (times as ISO strings). */
export const CASES: { kind: string; input: Record<string, unknown> }[] = [
  { kind: 'session.started', input: { eventId: 'ev-01', sessionId: 's-1', verb: 2, protocol: 'postgres', actor: { id: 'usr_alice', display: 'alice@example.com', groups: ['dba', 'eng'] }, resource: { name: 'pg-prod', type: 'database', tags: { env: 'prod', b: 'x', a: 'y' } }, source: { ip: '203.0.113.7', userAgent: 'psql/16' } } },
  { kind: 'statement.executed', input: { eventId: 'ev-02', sessionId: 's-1', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, statement: "SELECT * FROM users WHERE email = 'a@b.c' AND id IN (1, 2, 3) -- hi", params: '["x"]', operation: 'SELECT', tables: ['users'], rows: 3, durationMs: 12 } },
  { kind: 'statement.denied', input: { eventId: 'ev-03', sessionId: 's-1', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, statement: 'DROP TABLE "Users"; /* c */', rule: 'no-ddl', message: 'DDL is reviewed', matchedCount: 1 } },
  { kind: 'statement.failed', input: { eventId: 'ev-04', sessionId: 's-1', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, statement: 'SELECT $1::int, $$ raw $$, 1.5e3, x1 FROM ünïcode', sqlstate: '42P01', errorClass: 'undefined_table' } },
  { kind: 'session.ended', input: { eventId: 'ev-05', sessionId: 's-1', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, durationMs: 61000, exitCode: 0 } },
  { kind: 'session.denied', input: { eventId: 'ev-06', actor: { id: 'usr_mallory', type: 1 }, resource: { name: 'pg-prod' }, source: { ip: '198.51.100.4' }, reason: 'outside hours', rule: 'hours', labels: { k2: 'v2', k1: 'v1' } } },
  { kind: 'review.requested', input: { eventId: 'ev-07', reviewId: 'rev_1', kind: 1, actor: { id: 'usr_alice', display: 'Alice' }, resource: { name: 'pg-prod' }, statement: "UPDATE accounts SET plan = 'pro' WHERE id = 42", justification: 'ticket 7', clientArgs: '--single-transaction', envVarKeys: ['PGUSER'], requestedDurationMs: 900000, policy: { ruleName: 'prod-writes', requiredGroups: ['dba'], minApprovals: 1 } } },
  { kind: 'review.voteCast', input: { eventId: 'ev-08', reviewId: 'rev_1', actor: { id: 'usr_bob' }, resource: { name: 'pg-prod' }, group: 'dba', decision: 1, reason: 'looks fine', channel: 'slack' } },
  { kind: 'review.approved', input: { eventId: 'ev-09', reviewId: 'rev_1', actor: { id: 'usr_bob' }, resource: { name: 'pg-prod' }, voteEventIds: ['ev-08'], validUntil: '2026-01-02T03:04:05.678Z' } },
  { kind: 'review.executionStarted', input: { eventId: 'ev-10', reviewId: 'rev_1', sessionId: 's-2', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' } } },
  { kind: 'review.executionCompleted', input: { eventId: 'ev-11', reviewId: 'rev_1', sessionId: 's-2', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, exitCode: 0, rows: 1 } },
  { kind: 'review.rejected', input: { eventId: 'ev-12', reviewId: 'rev_2', actor: { id: 'usr_bob' }, resource: { name: 'pg-prod' }, reason: 'no ticket' } },
  { kind: 'review.forceApproved', input: { eventId: 'ev-13', reviewId: 'rev_3', actor: { id: 'usr_carol' }, resource: { name: 'pg-prod' }, forceGroup: 'sre', reason: 'incident 12', skippedGroups: ['dba'] } },
  { kind: 'review.autoApproved', input: { eventId: 'ev-14', reviewId: 'rev_4', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, ruleName: 'read-only' } },
  { kind: 'review.cancelled', input: { eventId: 'ev-15', reviewId: 'rev_5', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, reason: 'wrong db' } },
  { kind: 'review.expired', input: { eventId: 'ev-16', reviewId: 'rev_6', resource: { name: 'pg-prod' }, previousState: 1, deadline: '2026-01-01T00:00:00.000Z' } },
  { kind: 'review.revoked', input: { eventId: 'ev-17', reviewId: 'rev_1', actor: { id: 'usr_bob' }, resource: { name: 'pg-prod' }, reason: 'changed my mind' } },
  { kind: 'grant.activated', input: { eventId: 'ev-18', grantId: 'g-1', reviewId: 'rev_7', actor: { id: 'usr_bob' }, resource: { name: 'pg-prod' }, roles: ['readonly'], validFrom: '2026-01-01T00:00:00.000Z', validUntil: '2026-01-01T01:00:00.000Z', reason: 'on call' } },
  { kind: 'grant.revoked', input: { eventId: 'ev-19', grantId: 'g-1', actor: { id: 'usr_bob' }, resource: { name: 'pg-prod' } } },
  { kind: 'db.privilegeGranted', input: { eventId: 'ev-20', actor: { id: 'usr_dba' }, resource: { name: 'pg-prod' }, object: { database: 'app', schema: 'public', name: 'users', kind: 'table' }, grantee: 'analyst', privileges: ['SELECT', 'UPDATE'], withGrantOption: true } },
  { kind: 'db.roleRevoked', input: { eventId: 'ev-21', actor: { id: 'usr_dba' }, resource: { name: 'pg-prod' }, role: 'admin', member: 'analyst', mechanism: 'REVOKE' } },
  { kind: 'column.changed', input: { eventId: 'ev-22', actor: { id: 'usr_app', type: 3 }, resource: { name: 'pg-prod' }, object: { database: 'app', schema: 'public', name: 'users', kind: 'table', columns: ['ssn'] }, database: 'app', schema: 'public', table: 'users', column: 'ssn', rowKey: 'id=42', operation: 2, oldValue: '078-05-1120', newValue: '219-09-9999', valueClass: 1, captureMethod: 3, dbAccount: 'app_rw', changedAt: '2026-01-01T00:00:01.000Z', txid: '7781', commit: { 'actor.ip_geo': 'NL' } } },
  { kind: 'producerEvents.heartbeat', input: { eventId: 'ev-23', eventsSinceLast: 22, lastEventId: 'ev-22', intervalMs: 30000 } },
  { kind: 'statement.executed', input: { eventId: 'ev-24', sessionId: 's-3', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, statement: '\uFEFFSELECT\u00A0*\u3000FROM\u2028users\tWHERE id IN (1\u00A0,\u20292)\r\n;\uFEFF' } },
  { kind: 'statement.denied', input: { eventId: 'ev-25', sessionId: 's-3', actor: { id: 'usr_alice' }, resource: { name: 'pg-prod' }, statement: '\u0085DELETE\u1680FROM\u202Fİstanbul\u205FWHERE 𐐀 = 1\u0085', rule: 'no-delete' } },
  { kind: 'producerEvents.gap', input: { eventId: 'ev-26', reason: 'buffer overflow', firstSeq: 17, lastSeq: 42, lostCount: 26, from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:00:02.500Z' } },
  { kind: 'producerEvents.gap', input: { eventId: 'ev-27', reason: 'restart', firstSeq: 5 } },
];

/**
 * Statements whose normalisation and fingerprint the Go client must reproduce byte for byte:
 * every kind of whitespace JavaScript's \s knows (ECMA-262 §22.2.2.9: WhiteSpace and
 * LineTerminator), one it does not (U+0085), and letters whose lower case differs by Unicode
 * version or takes two code points.
 */
export const STATEMENTS: string[] = [
  'SELECT\u00A0*\u00A0FROM\u00A0t WHERE a = 1',
  'SELECT 1\u2028FROM\u2029t',
  'SELECT\u3000name\u3000FROM\u3000users WHERE id IN (1,\u30002 ,\u30003)',
  '\uFEFFSELECT 1 ;\uFEFF',
  "SELECT\ta,\n\tb\r\nFROM t\u000B\f WHERE x = 'y'\n",
  '\u0085SELECT 1\u0085',
  'SELECT\u1680a\u2000b\u2001c\u2002d\u2003e\u2004f\u2005g\u2006h\u2007i\u2008j\u2009k\u200Al\u202Fm\u205Fn',
  'SELECT x\u200B,\u180Ey FROM t', // ZERO WIDTH SPACE, MONGOLIAN VOWEL SEPARATOR: not whitespace
  'SELECT "İD", İstanbul, 𐐀𐐁 FROM Ⱟ WHERE Ꟁ = ꟋꟌ',
  "-- comment\u2028SELECT 1\n/* multi\u3000line */ SELECT\u00A0'a\u00A0b' , $$ x\u2029 $$",
];

/** Every BMP code point JavaScript's \s matches (Go checks its set against this one). */
export function jsWhitespace(): string[] {
  const out: string[] = [];
  for (let c = 0; c < 0x10000; c++) if (/\s/.test(String.fromCharCode(c))) out.push(c.toString(16).padStart(4, '0'));
  return out;
}

const TIME_KEYS = /(At|Until|From|deadline|^from|^to)$/;
/** JSON to SDK argument: times become Dates; every event gets the same occurred_at. */
function argument(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { occurredAt: new Date('2026-01-01T00:00:00.123Z') };
  for (const [k, v] of Object.entries(input)) out[k] = typeof v === 'string' && TIME_KEYS.test(k) ? new Date(v) : v;
  return out;
}

const RECEIVED_AT = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z, in ns; event i gets +i µs

/** RFC 9162 MTH and PATH over leaf hashes, for the stand-in log. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(l: Uint8Array[]): Uint8Array {
  if (l.length === 1) return l[0]!;
  const k = split(l.length);
  return H.node(mth(l.slice(0, k)), mth(l.slice(k)));
}
function path(m: number, l: Uint8Array[]): Uint8Array[] {
  if (l.length <= 1) return [];
  const k = split(l.length);
  return m < k ? [...path(m, l.slice(0, k)), mth(l.slice(k))] : [...path(m - k, l.slice(k)), mth(l.slice(0, k))];
}
const u32 = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);

export async function buildCorpus() {
  // Fixed keys and salts: every random byte the SDK draws comes from this counter-seeded stream.
  const producerKey = generateSignerKey('gw', sha256(utf8('corpus producer key')));
  const logKey = generateSignerKey('corpus.example/log', sha256(utf8('corpus log key')));
  const logSigner = parseSignerKey(logKey.skey).signer;
  let drawn = 0;
  const real = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
  globalThis.crypto.getRandomValues = (<T extends ArrayBufferView | null>(a: T): T => {
    const b = a as unknown as Uint8Array;
    for (let i = 0; i < b.length; i += 32) b.set(sha256(utf8(`corpus salt ${drawn++}`)).subarray(0, Math.min(32, b.length - i)), i);
    return a;
  }) as typeof globalThis.crypto.getRandomValues;
  try {
    const gw = new GatewayClient({
      address: 'unused: the transport below replaces gRPC',
      producer: 'gw',
      tenant: 'org-1',
      logKey: logKey.vkey,
      signerKey: producerKey.skey,
      batch: { maxEvents: 4096, lingerMs: 60_000 },
      transport: {
        close: () => undefined,
        async submitBatch(req) {
          const events = req.events;
          const batch = events.map((e) => H.leaf(sha256(e)));
          const leaves = events.map((e, i) => {
            const p = path(i, batch);
            return concat(
              utf8('candor/event/v1\n'), putU64be(RECEIVED_AT + BigInt(i) * 1000n), new Uint8Array([1, 2]), utf8('gw'),
              new Uint8Array([e.length >> 8, e.length & 255]), e,
              new Uint8Array([1]), u32(req.signature!.keyId), req.signature!.signature, u32(events.length), u32(i), new Uint8Array([p.length]), ...p,
            );
          });
          const hashes = leaves.map((l) => H.leaf(l));
          const checkpoint = signNote(formatCheckpoint({ origin: 'corpus.example/log', size: leaves.length, root: mth(hashes), extensions: [] }), [logSigner]);
          const ns = (i: number) => RECEIVED_AT + BigInt(i) * 1000n;
          return {
            requestId: req.requestId, checkpoint, producer: 'gw', authMethod: 1,
            acks: hashes.map((leafHash, i) => ({ index: BigInt(i), leafHash, treeSize: BigInt(leaves.length), inclusionProof: path(i, hashes), duplicate: false, leaf: new Uint8Array(), receivedAt: { seconds: ns(i) / 1_000_000_000n, nanos: Number(ns(i) % 1_000_000_000n) } })),
          } as never;
        },
      },
    });
    const pending = CASES.map(({ kind, input }) => {
      const [group, method] = kind.split('.') as [string, string];
      return (gw as unknown as Record<string, Record<string, (a: unknown) => Promise<import('@candor/gateway').Recorded>>>)[group]![method]!(argument(input));
    });
    await gw.flush();
    const recorded = await Promise.all(pending);
    await gw.close();
    return {
      about: 'clients/go/testdata/corpus.ts: events recorded by the TypeScript gateway SDK; the Go client must produce the same bytes',
      producer: 'gw',
      producerSignerKey: producerKey.skey,
      logVerifierKey: logKey.vkey,
      occurredAt: '2026-01-01T00:00:00.123Z',
      receivedAtNs: RECEIVED_AT.toString(),
      receivedAtStepNs: 1000,
      authMethod: 1,
      // The log's event types (src/schema/types.ts): Go validates against its own copy of the table.
      eventTypes: Object.fromEntries(Object.entries(EVENT_TYPES).map(([t, s]) => [t, { body: protoName(s.body), needs: [...s.needs] }])),
      whitespace: jsWhitespace(),
      fingerprints: STATEMENTS.map((statement) => ({ statement, normalized: normalizeStatement(statement), fingerprint: statementFingerprint(statement) })),
      cases: CASES.map((c, i) => {
        const r = recorded[i]!;
        return {
          ...c,
          salts: r.openings.map((o) => toHex(o.salt)),
          // ignoreBOM keeps a leading U+FEFF, which the default decoder drops (WHATWG Encoding, "decode").
          openings: r.openings.map((o) => ({ field: o.field, value: new TextDecoder('utf-8', { ignoreBOM: true }).decode(o.value) })),
          event: toHex(r.eventBytes),
          leaf: toHex(r.receipt.leaf),
          leafHash: toHex(r.receipt.leafHash),
        };
      }),
    };
  } finally {
    globalThis.crypto.getRandomValues = real;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').slice(-3).join('/'))) {
  writeSync(1, JSON.stringify(await buildCorpus(), null, 1) + '\n');
}
