/**
 * The leader lease in PostgreSQL (src/storage/lease.ts): one row, `<schema>.lease`, changed only by
 * single statements, so each is a transaction and PostgreSQL's row lock orders them. Expiry is
 * compared with PostgreSQL's clock (now()), never a node's, so clock skew between nodes cannot
 * give two nodes the lease at once.
 */
import pg from 'pg';
import type { LeaderLease, LeaseState } from '../lease.js';

export class PostgresLease implements LeaderLease {
  readonly #pool: pg.Pool;
  readonly #t: string;

  private constructor(pool: pg.Pool, schema: string) {
    this.#pool = pool;
    this.#t = `${schema}.lease`;
  }

  /** Opens the lease table in `schema` (created if missing; CloudStore.open creates the schema). */
  static async open(postgres: string, schema: string): Promise<PostgresLease> {
    const pool = new pg.Pool({ connectionString: postgres, max: 2 });
    try {
      await pool.query(`
        SELECT pg_advisory_xact_lock(hashtext('candor schema ${schema}'));
        CREATE SCHEMA IF NOT EXISTS ${schema};
        CREATE TABLE IF NOT EXISTS ${schema}.lease (id int PRIMARY KEY CHECK (id = 1), holder text NOT NULL, term bigint NOT NULL, url text NOT NULL, expires timestamptz NOT NULL);
      `);
    } catch (err) {
      await pool.end();
      throw err;
    }
    return new PostgresLease(pool, schema);
  }

  async acquire(holder: string, url: string, ttlMs: number): Promise<number | undefined> {
    // Free or expired: take it with the next term. Ours and live: extend it, same term.
    const r = await this.#pool.query<{ term: string }>(
      `INSERT INTO ${this.#t} AS l (id, holder, term, url, expires) VALUES (1, $1, 1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, url = excluded.url, expires = excluded.expires,
         term = CASE WHEN l.holder = excluded.holder AND l.expires > now() THEN l.term ELSE l.term + 1 END
       WHERE l.holder = excluded.holder OR l.expires <= now()
       RETURNING term`,
      [holder, url, ttlMs],
    );
    return r.rows[0] ? Number(r.rows[0].term) : undefined;
  }

  async renew(holder: string, term: number, ttlMs: number): Promise<boolean> {
    const r = await this.#pool.query(`UPDATE ${this.#t} SET expires = now() + $3 * interval '1 millisecond' WHERE id = 1 AND holder = $1 AND term = $2 AND expires > now()`, [holder, term, ttlMs]);
    return r.rowCount === 1;
  }

  async release(holder: string, term: number): Promise<void> {
    await this.#pool.query(`UPDATE ${this.#t} SET expires = now() WHERE id = 1 AND holder = $1 AND term = $2`, [holder, term]);
  }

  async current(): Promise<LeaseState | undefined> {
    const r = await this.#pool.query<{ holder: string; term: string; url: string; remaining: number }>(
      `SELECT holder, term, url, (extract(epoch FROM expires - now()) * 1000)::float8 AS remaining FROM ${this.#t} WHERE id = 1`,
    );
    const row = r.rows[0];
    return row ? { holder: row.holder, term: Number(row.term), url: row.url, remainingMs: row.remaining } : undefined;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
