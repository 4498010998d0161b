/**
 * `candor reconcile`: does the database still match the log? (docs/capture.md §Reconcile)
 *
 *  1. One REPEATABLE READ transaction whose first statement emits a mark into the WAL
 *     (pg_logical_emit_message, non-transactional): every commit the snapshot sees lies before it.
 *  2. Wait until the capture's slot has confirmed the mark: every change the snapshot sees is
 *     then in the log.
 *  3. Read the log's history of each declared column (search by object and type) and keep the
 *     latest change per row: by (commit LSN, position) for logical-decoding events, which is the
 *     database's own order, else by log index.
 *  4. Read the rows in the snapshot with a cursor and check each value against the latest change's
 *     new-value commitment, opened with the opening from the log's openings store.
 *
 * Findings: a value that differs from the logged one (changed_without_log), a row with no logged
 * history (no_history), a row whose latest logged change is a DELETE or TRUNCATE
 * (deleted_but_exists), a logged row that is gone without a logged DELETE (deleted_without_log).
 * Apart: rows whose opening is not in the store (erased, or never deposited): unverifiable.
 */
import pg from 'pg';
import { fromBase64, utf8, equal } from '@candor/core/bytes';
import { CandorError, type ErrorCode } from '@candor/core/errors';
import { verifyOpening } from '@candor/schema/commitment';
import { rowKey } from '@candor/schema/rowkey';
import { MARK_PREFIX, formatLsn, loadTables, parseLsn, qualified, quoteIdent, quoteTable, type SensitiveColumn, type SensitiveTable } from './tables.js';

export interface ReconcileOptions {
  pg: string;
  /** The capture's replication slot, whose confirmed LSN says how far the log has the changes. */
  slot: string;
  database?: string;
  tenant: string;
  columns: SensitiveColumn[];
  rowKeySecret: Uint8Array;
  /** The log's HTTP base URL. */
  url: string;
  /** A reader token with the "search" and "disclose" permissions on the tenant. */
  token: string;
  /** How long to wait for the capture to reach the snapshot. Default 60 s. */
  waitMs?: number;
  /** Called as rows are checked, with an estimate of the total. */
  progress?: (checked: number, estimate: number) => void;
  fetch?: typeof fetch;
}

export type FindingKind = 'changed_without_log' | 'no_history' | 'deleted_but_exists' | 'deleted_without_log' | 'unverifiable';

export interface LoggedChange {
  eventId: string;
  index: number;
  operation: string;
  commitLsn?: string;
  position?: number;
  newValueCommitment: string;
  newIsNull: boolean;
}

export interface Finding {
  kind: FindingKind;
  table: string;
  column: string;
  rowKey: string;
  /** The latest logged change of the row (absent for no_history), with its inclusion proof. */
  event?: LoggedChange & { proof?: { size: number; leafHash: string; hashes: string[] } };
  detail?: string;
}

export interface ReconcileReport {
  snapshotLsn: string;
  rows: number;
  values: number;
  findings: Finding[];
  /** Rows that cannot be checked: the opening of their latest change is not in the store. */
  unverifiable: Finding[];
  /** Openings disclosed (each is an audit.opening.disclosed event in the log). */
  disclosed: number;
}

interface SearchHit {
  index: number;
  event: {
    eventId: string;
    labels?: { key: string; value: string }[];
    columnChange?: { rowKey: string; operation: string; newValueCommitment?: string; captureMethod?: string };
  };
}

const later = (a: LoggedChange, b: LoggedChange): boolean => {
  if (a.commitLsn !== undefined && b.commitLsn !== undefined) {
    const la = parseLsn(a.commitLsn), lb = parseLsn(b.commitLsn);
    return la !== lb ? la > lb : (a.position ?? 0) > (b.position ?? 0);
  }
  return a.index > b.index;
};

export class Reconciler {
  readonly #o: ReconcileOptions;
  readonly #fetch: typeof fetch;
  #disclosed = 0;

  constructor(o: ReconcileOptions) {
    this.#o = o;
    this.#fetch = o.fetch ?? fetch;
  }

  async #api<T>(path: string): Promise<{ status: number; body: T & { error?: { code: ErrorCode; message: string } } }> {
    const res = await this.#fetch(`${this.#o.url.replace(/\/$/, '')}${path}`, { headers: { authorization: `Bearer ${this.#o.token}` } });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as T & { error?: { code: ErrorCode; message: string } } };
  }

  async #ok<T>(path: string): Promise<T> {
    const r = await this.#api<T>(path);
    if (r.status !== 200) throw new CandorError(r.body.error?.code ?? 'unavailable', `${path.split('?')[0]}: ${r.body.error?.message ?? `the log answered HTTP ${r.status}`}`);
    return r.body;
  }

  async run(): Promise<ReconcileReport> {
    const o = this.#o;
    const snap = new pg.Client({ connectionString: o.pg });
    const watch = new pg.Client({ connectionString: o.pg });
    await snap.connect();
    await watch.connect();
    try {
      const tables = await loadTables(snap, o.columns, false);
      const database = o.database ?? (await snap.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
      await snap.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const mark = parseLsn((await snap.query<{ lsn: string }>(`SELECT pg_logical_emit_message(false, '${MARK_PREFIX}', 'reconcile')::text AS lsn`)).rows[0]!.lsn);
      await this.#waitFor(watch, mark);
      const report: ReconcileReport = { snapshotLsn: formatLsn(mark), rows: 0, values: 0, findings: [], unverifiable: [], disclosed: 0 };
      let estimate = 0;
      for (const t of tables.values()) {
        const r = await snap.query<{ n: number }>('SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = $1::regclass', [quoteTable(t)]);
        estimate += Number(r.rows[0]?.n ?? 0);
      }
      for (const t of tables.values()) await this.#table(snap, database, t, report, estimate);
      await snap.query('COMMIT');
      for (const f of [...report.findings, ...report.unverifiable]) if (f.event) f.event.proof = await this.#proof(f.event.index);
      report.disclosed = this.#disclosed;
      return report;
    } finally {
      await snap.end().catch(() => undefined);
      await watch.end().catch(() => undefined);
    }
  }

  async #waitFor(watch: pg.Client, mark: bigint): Promise<void> {
    const deadline = Date.now() + (this.#o.waitMs ?? 60_000);
    for (;;) {
      const r = await watch.query<{ lsn: string | null }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [this.#o.slot]);
      if (r.rows.length === 0) throw new CandorError('not_found', `replication slot ${this.#o.slot} does not exist: start \`candor capture postgres\` first`);
      if (r.rows[0]!.lsn && parseLsn(r.rows[0]!.lsn) >= mark) return;
      if (Date.now() > deadline) {
        throw new CandorError('unavailable', `the capture has not logged the changes up to ${formatLsn(mark)} within ${(this.#o.waitMs ?? 60_000) / 1000} s (slot ${this.#o.slot} is at ${r.rows[0]!.lsn}): is \`candor capture postgres\` running?`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The latest logged change per row key of one column; "*" holds the latest TRUNCATE. */
  async #history(database: string, t: SensitiveTable, column: string): Promise<Map<string, LoggedChange>> {
    const latest = new Map<string, LoggedChange>();
    const object = `${database}.${t.schema}.${t.table}.${column}`;
    let cursor: string | undefined;
    do {
      const q = new URLSearchParams({ object, type: 'data.column.changed', tenant: this.#o.tenant, order: 'oldest', limit: '1000', ...(cursor ? { cursor } : {}) });
      const page = await this.#ok<{ results: SearchHit[]; nextCursor?: string }>(`/v1/search?${q}`);
      for (const h of page.results) {
        const b = h.event.columnChange;
        if (!b) continue;
        const label = (k: string) => h.event.labels?.find((l) => l.key === k)?.value;
        const lsn = b.captureMethod === 'CAPTURE_METHOD_LOGICAL_DECODING' ? label('pg.commit_lsn') : undefined;
        const c: LoggedChange = {
          eventId: h.event.eventId,
          index: h.index,
          operation: b.operation.replace(/^COLUMN_OPERATION_/, ''),
          ...(lsn !== undefined ? { commitLsn: lsn, position: Number(label('pg.position') ?? 0) } : {}),
          newValueCommitment: b.newValueCommitment ?? '',
          newIsNull: (label('pg.null') ?? '').split(',').includes('new'),
        };
        const prev = latest.get(b.rowKey);
        if (!prev || later(c, prev)) latest.set(b.rowKey, c);
      }
      cursor = page.nextCursor;
    } while (cursor);
    return latest;
  }

  async #table(snap: pg.Client, database: string, t: SensitiveTable, report: ReconcileReport, estimate: number): Promise<void> {
    const name = qualified(t.schema, t.table);
    const columns = [...t.columns.keys()];
    const history = new Map<string, Map<string, LoggedChange>>();
    for (const c of columns) history.set(c, await this.#history(database, t, c));
    const select = [...t.primaryKey, ...columns].map((c) => `${quoteIdent(c)}::text`).join(', ');
    await snap.query(`DECLARE candor_reconcile NO SCROLL CURSOR FOR SELECT ${select} FROM ${quoteTable(t)}`);
    const checks: { finding: Finding; current: string | null }[] = [];
    for (;;) {
      const batch = await snap.query({ text: 'FETCH 5000 FROM candor_reconcile', rowMode: 'array' });
      if (batch.rows.length === 0) break;
      for (const row of batch.rows as (string | null)[][]) {
        const key = rowKey(this.#o.rowKeySecret, { database, schema: t.schema, table: t.table, primaryKey: row.slice(0, t.primaryKey.length) as string[] });
        report.rows++;
        columns.forEach((column, i) => {
          report.values++;
          const logged = history.get(column)!;
          const last = logged.get(key);
          logged.delete(key);
          const truncate = logged.get('*');
          const base = { table: name, column, rowKey: key };
          if (truncate && (!last || later(truncate, last))) report.findings.push({ ...base, kind: 'deleted_but_exists', event: truncate, detail: 'the table was truncated' });
          else if (!last) report.findings.push({ ...base, kind: 'no_history' });
          else if (last.operation === 'DELETE' || last.operation === 'TRUNCATE') report.findings.push({ ...base, kind: 'deleted_but_exists', event: last });
          else checks.push({ finding: { ...base, kind: 'changed_without_log', event: last }, current: row[t.primaryKey.length + i] ?? null });
        });
      }
      this.#o.progress?.(report.rows, estimate);
      await this.#verify(checks.splice(0), report);
    }
    await snap.query('CLOSE candor_reconcile');
    for (const [column, logged] of history) {
      for (const [key, last] of logged) {
        if (key === '*' || last.operation === 'DELETE' || last.operation === 'TRUNCATE') continue;
        const truncate = logged.get('*');
        if (truncate && later(truncate, last)) continue;
        report.findings.push({ table: name, column, rowKey: key, kind: 'deleted_without_log', event: last });
      }
    }
  }

  /** Opens the new-value commitments (16 requests at a time) and compares them with the current values. */
  async #verify(checks: { finding: Finding; current: string | null }[], report: ReconcileReport): Promise<void> {
    for (let i = 0; i < checks.length; i += 16) {
      await Promise.all(
        checks.slice(i, i + 16).map(async ({ finding, current }) => {
          const e = finding.event!;
          const r = await this.#api<{ openings?: { field: string; salt: string; value: string }[] }>(`/v1/openings/${encodeURIComponent(e.eventId)}?field=new_value&tenant=${encodeURIComponent(this.#o.tenant)}`);
          if (r.status === 404) {
            report.unverifiable.push({ ...finding, kind: 'unverifiable', detail: r.body.error?.message ?? 'no opening in the store' });
            return;
          }
          if (r.status !== 200) throw new CandorError(r.body.error?.code ?? 'unavailable', `disclosing ${e.eventId}: ${r.body.error?.message ?? `HTTP ${r.status}`}`);
          this.#disclosed++;
          const o = r.body.openings?.find((x) => x.field === 'new_value');
          const opening = o && { field: o.field, salt: fromBase64(o.salt), value: fromBase64(o.value) };
          if (!opening || !verifyOpening(fromBase64(e.newValueCommitment), opening)) {
            report.findings.push({ ...finding, detail: 'the disclosed opening does not open the logged commitment' });
            return;
          }
          const matches = current === null ? e.newIsNull : !e.newIsNull && equal(utf8(current), opening.value);
          if (!matches) report.findings.push(finding);
        }),
      );
    }
  }

  async #proof(index: number): Promise<{ size: number; leafHash: string; hashes: string[] }> {
    const p = await this.#ok<{ size: number; leafHash: string; proof: string[] }>(`/proof/inclusion?index=${index}`);
    return { size: p.size, leafHash: p.leafHash, hashes: p.proof };
  }
}

/** The report for people: one line per finding. */
export function plainReport(r: ReconcileReport): string {
  const lines = [
    `reconciled ${r.rows} rows (${r.values} values) at snapshot LSN ${r.snapshotLsn}: ${r.findings.length} finding(s), ${r.unverifiable.length} unverifiable, ${r.disclosed} opening(s) disclosed`,
  ];
  const line = (f: Finding) =>
    `  ${f.kind.padEnd(20)} ${f.table}.${f.column} row ${f.rowKey}${f.event ? ` last logged ${f.event.operation} event ${f.event.eventId} at index ${f.event.index}` : ''}${f.detail ? ` (${f.detail})` : ''}`;
  lines.push(...r.findings.map(line));
  if (r.unverifiable.length > 0) lines.push('cannot check (openings erased or never deposited):', ...r.unverifiable.map(line));
  return `${lines.join('\n')}\n`;
}
