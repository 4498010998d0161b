// `candor capture postgres` and `candor reconcile` against a real PostgreSQL 15 of our own
// (wal_level = logical) and a real log: changes made with plain SQL and psql's \copy reach the
// log as data.column.changed events; many rows at one commit LSN give distinct events; the role is
// known only where a trigger says it; a SIGKILL between the log's acknowledgement and the slot's
// confirmation loses and duplicates nothing; reconcile is clean, then flags exactly the rows
// changed behind the log's back while the slot was gone.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, fromHex, utf8 } from '@candor/core/bytes';
import { verifyOpening } from '@candor/schema/commitment';
import { rowKey } from '@candor/schema/rowkey';
import { CaptureMethod, ColumnOperation, type ColumnChange } from '@candor/schema/gen/candor/v1/event_pb';
import { call } from '../privacy/helpers.js';
import * as B from '@candor/gateway/events';
import { depositOpenings } from '@candor/gateway/openings';
import { waitFor } from '../helpers/wait.js';
import {
  AUDITOR,
  GATEWAY,
  TENANT,
  caughtUp,
  confirmedLsn,
  label,
  loggedEvents,
  postgresBinariesMissing,
  reconcile,
  startBed,
  startCapture,
  superuser,
  type Bed,
  type CaptureProcess,
} from './helpers.js';

const COLUMNS = ['public.accounts.iban=PCI', 'public.accounts.ssn=PII', 'public.audited.secret=SECRET'];
const missing = postgresBinariesMissing();

let bed: Bed;
let capture: CaptureProcess | undefined;

const changes = async () => (await loggedEvents(bed.log)).filter((e) => e.event.type === 'data.column.changed');
const body = (e: { event: { body: { value?: unknown } } }) => e.event.body.value as ColumnChange;
const key = (table: string, id: string) => rowKey(fromHex(readFileSync(join(bed.work, 'row.key'), 'utf8').trim()), { database: 'candor', schema: 'public', table, primaryKey: [id] });

describe.skipIf(missing !== undefined)(`capture from PostgreSQL logical replication${missing ? ` (skipped: ${missing})` : ''}`, () => {
  beforeAll(async () => {
    bed = await startBed();
    await bed.sql.query(`
      CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, iban text, ssn text);
      CREATE TABLE audited (id int PRIMARY KEY, secret text);
      CREATE FUNCTION candor_role() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_logical_emit_message(true, 'candor.role', current_user); RETURN NULL; END $$;
      CREATE TRIGGER candor_role AFTER INSERT OR UPDATE OR DELETE ON audited FOR EACH STATEMENT EXECUTE FUNCTION candor_role();
    `);
    capture = await startCapture(bed, COLUMNS, ['--setup']);
  }, 120_000);

  afterAll(async () => {
    try {
      await capture?.kill();
    } finally {
      await bed?.cleanup();
    }
  }, 60_000);

  it('logs a multi-row INSERT and a psql \\copy as one event per row and column, distinct at one commit LSN, role unknown', async () => {
    await bed.sql.query(`INSERT INTO accounts VALUES (1, 'ann', 'IBAN-1', 'SSN-1'), (2, 'bob', 'IBAN-2', 'SSN-2'), (3, 'cy', 'IBAN-3', NULL)`);
    const psql = spawnSync(`/usr/lib/postgresql/${readFileSync(join(bed.pg.dir, 'data', 'PG_VERSION'), 'utf8').trim()}/bin/psql`, [bed.pg.url, '-v', 'ON_ERROR_STOP=1', '-c', '\\copy accounts FROM STDIN'], {
      input: '4\tdee\tIBAN-4\tSSN-4\n5\teve\tIBAN-5\tSSN-5\n',
      encoding: 'utf8',
    });
    expect(psql.status, psql.stderr).toBe(0);
    await caughtUp(bed.sql);

    const events = await changes();
    expect(events).toHaveLength(10);
    const lsns = [...new Set(events.map((e) => label(e, 'pg.commit_lsn')))];
    expect(lsns).toHaveLength(2);
    for (const lsn of lsns) {
      const at = events.filter((e) => label(e, 'pg.commit_lsn') === lsn);
      // Distinct idempotency keys for every (position, column) at one commit LSN.
      expect(new Set(at.map((e) => e.event.producerEventId)).size).toBe(at.length);
      expect(new Set(at.map((e) => `${label(e, 'pg.position')}/${body(e).column}`)).size).toBe(at.length);
    }
    expect(events.filter((e) => label(e, 'pg.commit_lsn') === lsns[0])).toHaveLength(6);
    for (const e of events) {
      const b = body(e);
      expect(b.captureMethod).toBe(CaptureMethod.LOGICAL_DECODING);
      expect(b.operation).toBe(ColumnOperation.INSERT);
      expect(b.dbAccount).toBe('unknown');
      expect(label(e, 'pg.db_account_source')).toBe('unknown');
      expect(e.event.actor!.id).toBe('unknown');
      expect(b.oldValueCommitment).toHaveLength(0);
      expect(b.newValueCommitment).toHaveLength(32);
    }
    // The row key is the documented keyed hash of the primary key, as a gateway computes it.
    const ann = events.find((e) => body(e).rowKey === key('accounts', '1') && body(e).column === 'iban')!;
    expect(ann).toBeDefined();
    // A NULL is committed as the empty value and labelled.
    const cy = events.find((e) => body(e).rowKey === key('accounts', '3') && body(e).column === 'ssn')!;
    expect(label(cy, 'pg.null')).toBe('new');

    // The openings were deposited: an auditor opens the commitment to the real value.
    const d = await call(bed.log, 'GET', `/v1/openings/${encodeURIComponent(ann.event.eventId)}?field=new_value`, AUDITOR);
    expect(d.status).toBe(200);
    const o = (d.body.openings as { field: string; salt: string; value: string }[])[0]!;
    const opening = { field: o.field, salt: fromBase64(o.salt), value: fromBase64(o.value) };
    expect(verifyOpening(body(ann).newValueCommitment, opening)).toBe(true);
    expect(opening.value).toEqual(utf8('IBAN-1'));
  });

  it('records the role a trigger names with pg_logical_emit_message, and the authoritative old value', async () => {
    const before = (await changes()).length;
    await bed.sql.query(`INSERT INTO audited VALUES (1, 's-1')`);
    await bed.sql.query(`UPDATE audited SET secret = 's-2' WHERE id = 1`);
    await caughtUp(bed.sql);
    const events = (await changes()).slice(before);
    expect(events.map((e) => ColumnOperation[body(e).operation])).toEqual(['INSERT', 'UPDATE']);
    for (const e of events) {
      expect(body(e).dbAccount).toBe('candor');
      expect(label(e, 'pg.db_account_source')).toBe('pg_logical_emit_message');
    }
    expect(body(events[1]!).oldValueAuthoritative).toBe(true);
    expect(body(events[1]!).oldValueCommitment).toHaveLength(32);
  });

  it('loses and duplicates nothing when the capture is SIGKILLed after the log acknowledged and before the slot confirmed', async () => {
    // A capture that confirms only every minute: the window between the two is wide open.
    await capture!.stop();
    capture = await startCapture(bed, COLUMNS, ['--confirm-interval-ms', '60000']);
    const confirmed = await confirmedLsn(bed.sql);
    const before = (await changes()).length;
    for (let i = 1; i <= 5; i++) await bed.sql.query(`UPDATE accounts SET iban = $1 WHERE id = $2`, [`IBAN-${i}-v2`, i]);
    await waitFor('the five updates in the log', async () => (await changes()).length === before + 5, 20_000);
    // Logged (and their openings deposited), but not confirmed to the slot.
    const logged = (await changes()).slice(before);
    await waitFor('the openings of the last update', async () => (await call(bed.log, 'GET', `/v1/openings/${encodeURIComponent(logged[4]!.event.eventId)}?field=new_value`, AUDITOR)).status === 200, 10_000);
    expect(await confirmedLsn(bed.sql)).toBe(confirmed);
    const size = bed.log.service.size;
    await capture!.kill();

    // PostgreSQL resends the five transactions; the log answers each with its first receipt.
    capture = await startCapture(bed, COLUMNS);
    await caughtUp(bed.sql);
    expect((await confirmedLsn(bed.sql))!).toBeGreaterThan(confirmed!);
    expect(await capture.stop()).toBe(0);
    expect(capture.output()).toMatch(/stopped; 5 events from 5 transactions/);
    capture = await startCapture(bed, COLUMNS);
    const after = await changes();
    expect(after).toHaveLength(before + 5);
    expect(new Set(after.map((e) => e.event.producerEventId)).size).toBe(after.length);
    // Only the disclosure of the check above was added to the log.
    expect(bed.log.service.size).toBe(size);
  }, 90_000);

  it('loses and duplicates nothing when the capture is SIGKILLed while the log is down', async () => {
    const before = await changes();
    await bed.stopLog();
    // The capture may confirm WAL that holds nothing it logs (other transactions), but never a
    // commit it could not log: the mark is taken inside the first update, after its row change
    // and before its commit record, so confirming that commit would put the slot past it.
    let firstUpdate = 0n;
    for (let i = 1; i <= 3; i++) {
      const r = await bed.sql.query<{ lsn: string }>(`UPDATE accounts SET ssn = $1 WHERE id = $2 RETURNING pg_current_wal_insert_lsn()::text AS lsn`, [`SSN-${i}-v3`, i]);
      if (i === 1) {
        const [hi, lo] = r.rows[0]!.lsn.split('/');
        firstUpdate = (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
      }
    }
    // The walsender has sent the three commits to the capture, which cannot log them...
    const end = (await bed.sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn;
    await waitFor('the walsender to send the commits', async () => (await bed.sql.query(`SELECT 1 FROM pg_stat_replication WHERE sent_lsn >= $1::pg_lsn`, [end])).rows.length > 0, 10_000);
    // ...so it has not confirmed them.
    expect(await confirmedLsn(bed.sql)).toBeLessThan(firstUpdate);
    await capture!.kill();
    await bed.startLog();
    capture = await startCapture(bed, COLUMNS);
    await caughtUp(bed.sql);
    const after = await changes();
    expect(after).toHaveLength(before.length + 3);
    expect(new Set(after.map((e) => e.event.producerEventId)).size).toBe(after.length);
    expect(after.slice(before.length).map((e) => body(e).rowKey)).toEqual(['1', '2', '3'].map((id) => key('accounts', id)));
  }, 90_000);

  it('a change made through a gateway is logged by the gateway and by the capture, under the same row key', async () => {
    const before = (await changes()).length;
    // The demo gateway runs the statement for its user, then records what it saw.
    await bed.sql.query(`UPDATE accounts SET iban = 'IBAN-5-gw' WHERE id = 5`);
    const gw = bed.log.gateway(GATEWAY, TENANT);
    const r = await gw.column.changed({
      actor: { id: 'usr_alice' },
      resource: { name: 'candor', type: 'postgresql' },
      database: 'candor',
      schema: 'public',
      table: 'accounts',
      column: 'iban',
      rowKey: key('accounts', '5'),
      operation: B.ColumnOperation.UPDATE,
      oldValue: 'IBAN-5-v2',
      newValue: 'IBAN-5-gw',
      valueClass: B.ValueClass.PCI,
      captureMethod: B.CaptureMethod.GATEWAY_OBSERVED,
      dbAccount: 'candor',
    });
    await depositOpenings({ url: bed.log.url, token: bed.log.creds[GATEWAY]!.token }, r);
    await caughtUp(bed.sql);
    const both = (await changes()).slice(before).filter((e) => body(e).rowKey === key('accounts', '5'));
    expect(both.map((e) => CaptureMethod[body(e).captureMethod]).sort()).toEqual(['GATEWAY_OBSERVED', 'LOGICAL_DECODING']);
  });

  it('reconcile is clean, then flags exactly the rows changed behind the log while the slot was gone', async () => {
    await caughtUp(bed.sql);
    const clean = await reconcile(bed, COLUMNS);
    expect(clean.report.findings, clean.stderr).toEqual([]);
    expect(clean.report.unverifiable).toEqual([]);
    expect(clean.code).toBe(0);
    expect(clean.report.rows).toBe(6);

    // Out of band: the capture stopped, its slot dropped, one row changed and one deleted.
    await capture!.stop();
    await bed.sql.query(`SELECT pg_drop_replication_slot('candor_capture')`);
    await bed.sql.query(`UPDATE accounts SET iban = 'IBAN-EVIL' WHERE id = 2`);
    await bed.sql.query(`DELETE FROM accounts WHERE id = 3`);
    // The capture notices the missing slot, logs the gap, and resumes on a new slot.
    capture = await startCapture(bed, COLUMNS);
    expect(capture.output()).toMatch(/replication slot candor_capture is missing/);
    const gap = (await loggedEvents(bed.log)).filter((e) => e.event.type === 'audit.gap');
    expect(gap).toHaveLength(1);
    expect(label(gap[0]!, 'pg.slot')).toBe('candor_capture');
    await bed.sql.query(`UPDATE accounts SET ssn = 'SSN-1-v2' WHERE id = 1`);

    const r = await reconcile(bed, COLUMNS);
    expect(r.code).toBe(3);
    const found = r.report.findings.map((f) => `${f.kind} ${f.rowKey} ${f.column}`).sort();
    expect(found).toEqual(
      [`changed_without_log ${key('accounts', '2')} iban`, `deleted_without_log ${key('accounts', '3')} iban`, `deleted_without_log ${key('accounts', '3')} ssn`].sort(),
    );
    for (const f of r.report.findings) {
      expect(f.event?.eventId).toMatch(/^pg\//);
      expect(f.event?.proof).toBeDefined();
    }
  }, 120_000);

  it('logs an audit.gap when max_slot_wal_keep_size invalidated the slot, and reconcile finds the change it lost', async () => {
    await capture!.stop();
    const su = await superuser(bed.pg);
    try {
      await su.query(`ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'`);
      await su.query('SELECT pg_reload_conf()');
      await bed.sql.query(`UPDATE accounts SET iban = 'IBAN-4-lost' WHERE id = 4`);
      await bed.sql.query('CREATE TABLE filler (x text)');
      await waitFor('the slot to be invalidated', async () => {
        await bed.sql.query(`INSERT INTO filler SELECT repeat('x', 1000) FROM generate_series(1, 2000)`);
        await su.query('SELECT pg_switch_wal()');
        await su.query('CHECKPOINT');
        const r = await bed.sql.query<{ wal_status: string }>(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'candor_capture'`);
        return r.rows[0]?.wal_status === 'lost';
      }, 30_000);
      await su.query('ALTER SYSTEM RESET max_slot_wal_keep_size');
      await su.query('SELECT pg_reload_conf()');
    } finally {
      await su.end();
    }
    capture = await startCapture(bed, COLUMNS);
    expect(capture.output()).toMatch(/was invalidated \(wal_status lost/);
    const gaps = (await loggedEvents(bed.log)).filter((e) => e.event.type === 'audit.gap');
    expect(gaps).toHaveLength(2);
    expect((gaps[1]!.event.body.value as { reason: string }).reason).toMatch(/max_slot_wal_keep_size/);

    const r = await reconcile(bed, COLUMNS);
    expect(r.code).toBe(3);
    const found = r.report.findings.map((f) => `${f.kind} ${f.rowKey} ${f.column}`).sort();
    expect(found).toEqual(
      [
        `changed_without_log ${key('accounts', '2')} iban`,
        `changed_without_log ${key('accounts', '4')} iban`,
        `deleted_without_log ${key('accounts', '3')} iban`,
        `deleted_without_log ${key('accounts', '3')} ssn`,
      ].sort(),
    );
  }, 120_000);
});
