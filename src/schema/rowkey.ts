/**
 * The row key of a `data.column.changed` event (docs/leaf-format.md §Row keys): a pseudonymous,
 * stable name for a row that a gateway and the database capture (src/capture/) compute alike, so
 * that `candor reconcile` can match a row with every change logged for it, whoever logged it.
 *
 *   "rk1_" || hex(HMAC-SHA256(K, "candor/row-key/v1\n" || lp(database) || lp(schema) || lp(table)
 *                              || uint16 n || lp(v1) || ... || lp(vn)))
 *
 * where lp(x) is a uint32 big-endian length and x's UTF-8 bytes, and v1..vn are the row's primary
 * key values in PostgreSQL's text form (what `SELECT pk::text` prints), in the key's column order.
 * K is a secret of at least 16 bytes shared by the tenant's producers: without it a row key
 * cannot be tested against guessed keys (a customer number is low-entropy); keyed, not salted,
 * so that the same row always gets the same key.
 *
 * Portable (noble).
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, putU32be, toHex, utf8 } from '@candor/core/bytes';
import { invalid } from '@candor/core/errors';

const PREFIX = utf8('candor/row-key/v1\n');
export const MIN_ROW_KEY_SECRET_BYTES = 16;

export interface RowIdentity {
  database: string;
  schema: string;
  table: string;
  /** The primary key's values as PostgreSQL text, in key column order. */
  primaryKey: readonly string[];
}

const lp = (s: string) => {
  const b = utf8(s);
  return concat(putU32be(b.length), b);
};

/** The row key of a row under the tenant's row-key secret. */
export function rowKey(secret: Uint8Array, row: RowIdentity): string {
  if (secret.length < MIN_ROW_KEY_SECRET_BYTES) throw invalid(`the row-key secret must be at least ${MIN_ROW_KEY_SECRET_BYTES} bytes`);
  if (row.primaryKey.length === 0 || row.primaryKey.length > 0xffff) throw invalid('a row key needs 1 to 65535 primary key values');
  const n = new Uint8Array([row.primaryKey.length >> 8, row.primaryKey.length & 0xff]);
  const msg = concat(PREFIX, lp(row.database), lp(row.schema), lp(row.table), n, ...row.primaryKey.map(lp));
  return `rk1_${toHex(hmac(sha256, secret, msg))}`;
}
