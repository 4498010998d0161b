/**
 * What the capture and `candor reconcile` share: the declared sensitive columns, the tables'
 * primary keys and replica identities read from the catalog, LSN arithmetic, and the value a
 * commitment is made to (a column's PostgreSQL text form).
 */
import type { Client } from 'pg';
import { CandorError, invalid } from '@candor/core/errors';
import { ValueClass } from '@candor/schema/gen/candor/v1/event_pb';

export interface SensitiveColumn {
  schema: string;
  table: string;
  column: string;
  valueClass: ValueClass;
}

export interface SensitiveTable {
  schema: string;
  table: string;
  /** Declared sensitive columns and their classes, in declaration order. */
  columns: Map<string, ValueClass>;
  /** Primary key columns in key order (from pg_index). */
  primaryKey: string[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_$]*$/;

/** Parses "schema.table.column=CLASS" (CLASS one of PII, PCI, PHI, SECRET, OTHER). */
export function parseColumn(spec: string): SensitiveColumn {
  const m = /^([^.=]+)\.([^.=]+)\.([^.=]+)=([A-Za-z]+)$/.exec(spec);
  if (!m) throw invalid(`--column ${JSON.stringify(spec)} must be schema.table.column=CLASS, e.g. public.accounts.iban=PCI`);
  const [, schema, table, column, cls] = m as unknown as [string, string, string, string, string];
  for (const [what, name] of [['schema', schema], ['table', table], ['column', column]] as const) {
    if (!IDENT.test(name)) throw invalid(`--column ${JSON.stringify(spec)}: the ${what} ${JSON.stringify(name)} is not a plain identifier`);
  }
  const valueClass = ValueClass[cls.toUpperCase() as keyof typeof ValueClass];
  if (typeof valueClass !== 'number' || valueClass === ValueClass.UNSPECIFIED) {
    throw invalid(`--column ${JSON.stringify(spec)}: the class must be one of PII, PCI, PHI, SECRET, OTHER`);
  }
  return { schema, table, column, valueClass };
}

export const qualified = (schema: string, table: string) => `${schema}.${table}`;
export const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
export const quoteTable = (t: { schema: string; table: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/**
 * Groups the columns by table and reads each table's primary key and replica identity. The
 * capture needs REPLICA IDENTITY FULL: only then does pgoutput send a row's old values, without
 * which an UPDATE's old value and a DELETE's values are not known (PostgreSQL docs, ALTER TABLE
 * ... REPLICA IDENTITY). `requireFull` is false for reconcile, which reads no change stream.
 */
export async function loadTables(client: Client, columns: readonly SensitiveColumn[], requireFull: boolean): Promise<Map<string, SensitiveTable>> {
  if (columns.length === 0) throw invalid('declare at least one sensitive column with --column schema.table.column=CLASS');
  const tables = new Map<string, SensitiveTable>();
  for (const c of columns) {
    const key = qualified(c.schema, c.table);
    let t = tables.get(key);
    if (!t) tables.set(key, (t = { schema: c.schema, table: c.table, columns: new Map(), primaryKey: [] }));
    t.columns.set(c.column, c.valueClass);
  }
  for (const t of tables.values()) {
    const rel = await client.query<{ oid: number; relreplident: string }>(
      `SELECT c.oid, c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
      [t.schema, t.table],
    );
    if (rel.rows.length === 0) throw invalid(`table ${qualified(t.schema, t.table)} does not exist`);
    const { oid, relreplident } = rel.rows[0]!;
    const cols = await client.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, [oid]);
    const names = new Set(cols.rows.map((r) => r.attname));
    for (const c of t.columns.keys()) if (!names.has(c)) throw invalid(`column ${qualified(t.schema, t.table)}.${c} does not exist`);
    const pk = await client.query<{ attname: string }>(
      `SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
      [oid],
    );
    if (pk.rows.length === 0) throw invalid(`table ${qualified(t.schema, t.table)} has no primary key: a row key is computed from it`);
    t.primaryKey = pk.rows.map((r) => r.attname);
    if (requireFull && relreplident !== 'f') {
      throw invalid(`table ${qualified(t.schema, t.table)} needs REPLICA IDENTITY FULL so that old values are captured: ALTER TABLE ${quoteTable(t)} REPLICA IDENTITY FULL (or run with --setup)`);
    }
  }
  return tables;
}

/** An LSN ("16/B374D848") as a number of bytes. */
export function parseLsn(s: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(s);
  if (!m) throw new CandorError('invalid_argument', `${JSON.stringify(s)} is not an LSN`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** A column's value as committed: its PostgreSQL text form, or null for SQL NULL. */
export type ColumnValue = string | null;

/**
 * The prefix of the non-transactional logical messages (pg_logical_emit_message(false, ...)) that
 * mark a point in the WAL: the capture confirms a mark once everything before it is logged, so
 * whoever emitted it (reconcile, the capture's own idle tick) knows when the log has caught up.
 */
export const MARK_PREFIX = 'candor.mark';
/** The prefix of the transactional messages that name the database role of a transaction's changes. */
export const ROLE_PREFIX = 'candor.role';
