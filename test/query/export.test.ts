// Export: NDJSON and CSV writers, the signed bundle, and its offline verifier against every kind
// of tampering; on a real log (store on disk) filled with event leaves and one opaque entry.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { review, ReviewKind, VoteDecision } from '@candor/gateway/events';
import { fromBase64, toBase64, utf8 } from '@candor/core/bytes';
import { generateSignerKey, parseVerifierKey } from '@candor/core/note';
import { EventSchema, type Event } from '@candor/schema/gen/candor/v1/event_pb';
import { EXPORT_FORMAT, parseManifest, verifyExportBundle } from '../../src/query/signed-export.js';
import { CSV_COLUMNS, Exporter, csvField, type ExportFormat } from '../../src/query/export.js';
import type { EventFilter } from '../../src/query/filter.js';
import { startTestLog } from '../helpers/log.js';
import { complete, loggedAt } from './events.js';

let log: Awaited<ReturnType<typeof startTestLog>>;
let exporter: Exporter;
const events: Event[] = [];

beforeAll(async () => {
  log = await startTestLog();
  exporter = new Exporter({ service: log.service, signers: log.keys.signers });
  const resource = { name: 'pg, "prod"', type: 'database' };
  await log.service.add(utf8('an opaque entry, not an event'));
  for (let i = 0; i < 40; i++) {
    const tenantId = i % 2 === 0 ? 'org-1' : 'org-2';
    const R = `rev-${i}`;
    events.push(
      complete(review.requested({ actor: { id: `u-${i}` }, reviewId: R, kind: ReviewKind.ONE_TIME_COMMAND, statement: `SELECT ${i}`, resource }), { tenantId }),
      complete(review.voteCast({ actor: { id: 'u-bob' }, reviewId: R, group: 'dba', decision: VoteDecision.APPROVE }), { tenantId }),
    );
  }
  // Leaves as the log writes them; in several submissions, so proofs span more than one batch.
  for (let i = 0; i < events.length; i += 16) await log.service.addMany(events.slice(i, i + 16).map((e, j) => loggedAt(i + j, e).leaf));
}, 30_000);
afterAll(() => log?.cleanup());

async function run(format: ExportFormat, filter: EventFilter = {}): Promise<string> {
  const x = exporter.open(format, filter);
  const parts: Buffer[] = [];
  for await (const b of x.body) parts.push(b);
  const summary = await x.done;
  expect(summary.complete).toBe(true);
  return Buffer.concat(parts).toString('utf8');
}

const verifiers = () => log.keys.vkeys.map((k) => parseVerifierKey(k));

describe('NDJSON and CSV', () => {
  it('NDJSON: one object per event in log order, the event in the protobuf JSON mapping, opaque entries skipped', async () => {
    const lines = (await run('ndjson')).trimEnd().split('\n');
    expect(lines).toHaveLength(events.length);
    const first = JSON.parse(lines[0]!) as { index: number; producer: string; authMethod: string; leafHash: string; event: JsonValue };
    expect(first).toMatchObject({ index: 1, producer: 'gw-1', authMethod: 'AUTH_METHOD_BEARER_TOKEN', signed: false });
    expect(fromJson(EventSchema, first.event)).toEqual(events[0]);
    expect((JSON.parse(lines.at(-1)!) as { index: number }).index).toBe(events.length);
  });

  it('filters by tenant, type and index range', async () => {
    const lines = (await run('ndjson', { tenant: ['org-2'], type: ['review.vote.*'], start: 10, end: 30 })).trimEnd().split('\n');
    const got = lines.map((l) => JSON.parse(l) as { index: number; event: { tenantId: string; type: string } });
    expect(got.map((g) => g.index)).toEqual([12, 16, 20, 24, 28]);
    expect(new Set(got.map((g) => `${g.event.tenantId} ${g.event.type}`))).toEqual(new Set(['org-2 review.vote.cast']));
  });

  it('CSV: RFC 4180, a header of the documented columns, fields with commas and quotes quoted', async () => {
    const text = await run('csv', { type: ['review.requested'], end: 3 });
    const rows = text.split('\r\n');
    expect(rows[0]).toBe(CSV_COLUMNS.join(','));
    expect(rows[1]).toContain(',"pg, ""prod""",');
    expect(rows[1]!.startsWith('1,')).toBe(true);
    expect(rows.at(-1)).toBe('');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('plain')).toBe('plain');
    // The last column is the canonical event, base64.
    expect(rows[1]!.split(',').at(-1)).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });
});

describe('signed export bundle', () => {
  it('verifies offline: checkpoint, every inclusion proof, the signed manifest', async () => {
    const text = await run('bundle', { tenant: ['org-1'] });
    const header = JSON.parse(text.split('\n')[0]!) as { format: string };
    expect(header.format).toBe(EXPORT_FORMAT);
    const v = verifyExportBundle(text, { logVerifiers: verifiers() });
    expect(v.count).toBe(events.length / 2);
    expect(v.manifest).toMatchObject({ count: 40, first: 1, last: 78, filter: { tenant: ['org-1'] } });
  });

  it('an empty selection still makes a verifiable bundle', async () => {
    const v = verifyExportBundle(await run('bundle', { tenant: ['nobody'] }), { logVerifiers: verifiers() });
    expect(v.count).toBe(0);
    expect(v.manifest.first).toBeUndefined();
  });

  describe('any altered byte fails, and the message names what failed', () => {
    let text: string;
    let lines: string[];
    beforeAll(async () => {
      text = await run('bundle', { start: 5, end: 12 });
      lines = text.split('\n');
    });
    const verify = (t: string) => () => verifyExportBundle(t, { logVerifiers: verifiers() });
    /** Replaces one base64 character in the middle of a value with another. */
    const flipB64 = (s: string) => {
      const i = Math.floor(s.length / 2);
      return s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    };

    it('an event leaf', () => {
      const ev = JSON.parse(lines[3]!) as { index: number; leaf: string; proof: string[] };
      lines[3] = JSON.stringify({ ...ev, leaf: flipB64(ev.leaf) });
      expect(verify(lines.join('\n'))).toThrow(new RegExp(`^event ${ev.index} \\(line 4\\): the inclusion proof does not verify`));
      lines = text.split('\n');
    });

    it('a proof hash', () => {
      const ev = JSON.parse(lines[2]!) as { index: number; leaf: string; proof: string[] };
      const proof = [...ev.proof];
      proof[1] = flipB64(proof[1]!);
      lines[2] = JSON.stringify({ ...ev, proof });
      expect(verify(lines.join('\n'))).toThrow(new RegExp(`^event ${ev.index} \\(line 3\\): the inclusion proof does not verify`));
      lines = text.split('\n');
    });

    it('the checkpoint', () => {
      const h = JSON.parse(lines[0]!) as { checkpoint: string };
      const [origin, size, root, ...rest] = h.checkpoint.split('\n');
      lines[0] = JSON.stringify({ ...h, checkpoint: [origin, size, flipB64(root!), ...rest].join('\n') });
      expect(verify(lines.join('\n'))).toThrow(/^checkpoint \(line 1\): invalid signature/);
      lines = text.split('\n');
    });

    it('the manifest', () => {
      const i = lines.findIndex((l) => l.startsWith('{"manifest"'));
      const m = JSON.parse(lines[i]!) as { manifest: string };
      lines[i] = JSON.stringify({ manifest: m.manifest.replace(/\ncount (\d+)\n/, (_, n: string) => `\ncount ${Number(n) + 1}\n`) });
      expect(verify(lines.join('\n'))).toThrow(new RegExp(`^manifest \\(line ${i + 1}\\): invalid signature`));
      lines = text.split('\n');
    });

    it('a removed event, caught by the signed manifest', () => {
      lines.splice(2, 1);
      expect(verify(lines.join('\n'))).toThrow(/^manifest \(line \d+\): it counts 7 events, the bundle holds 6/);
      lines = text.split('\n');
    });

    it('a truncated file, without its manifest', () => {
      expect(verify(lines.slice(0, 4).join('\n'))).toThrow(/ends after 3 events without its manifest/);
    });

    it('an event outside the export filter, even with a valid proof', async () => {
      const other = (await run('bundle', { start: 20, end: 21 })).split('\n')[1]!;
      lines.splice(lines.length - 2, 0, other);
      expect(verify(lines.join('\n'))).toThrow(/^event 20 \(line \d+\): the event does not match the export's filter/);
      lines = text.split('\n');
    });

    it('the untouched bundle verifies', () => {
      expect(verify(text)().count).toBe(7);
      const m = parseManifest((JSON.parse(lines.at(-2)!) as { manifest: string }).manifest.split('\n\n')[0]! + '\n');
      expect(toBase64(m.eventsSha256)).toBe(toBase64(fromBase64(toBase64(m.eventsSha256))));
    });
  });

  it('a bundle checked with another log key fails', async () => {
    const text = await run('bundle', { end: 4 });
    const other = parseVerifierKey(generateSignerKey('test.example/log').vkey);
    expect(() => verifyExportBundle(text, { logVerifiers: [other] })).toThrow(/^checkpoint \(line 1\): note has no signature from a known key/);
  });
});
