/**
 * `candor capture postgres`: every committed change to a declared sensitive column, read from
 * PostgreSQL's logical replication stream (pgoutput, protocol version 1), logged as a
 * `data.column.changed` event with capture_method LOGICAL_DECODING (docs/capture.md).
 *
 * Durability, step by step:
 *  1. A permanent replication slot holds the position. PostgreSQL resends every transaction whose
 *     commit record starts at or after the slot's confirmed_flush_lsn (START_REPLICATION ...
 *     LOGICAL; the walsender skips those below it), so nothing the capture has not confirmed is lost.
 *  2. A transaction's events are built at its commit, submitted through the gateway SDK (which
 *     verifies every receipt), and their openings deposited with the log.
 *  3. Only then, in commit order, is the commit's end LSN confirmed to the slot (a standby status
 *     update). A crash before 3 makes PostgreSQL resend the transaction after a restart.
 *  4. A resent transaction gives byte-identical events: the event ID and idempotency key are
 *     (system identifier, commit LSN, position of the row change in the transaction, column),
 *     the time is the commit time and the salts are derived from a secret and that key, so the
 *     log answers with the first receipts (`duplicate`) and adds no leaf.
 *
 * The role that made a change is not in pgoutput's stream. A trigger may name it with
 * pg_logical_emit_message(true, 'candor.role', current_user) in the same transaction; without such
 * a message the role is recorded as unknown (db_account "unknown", label
 * pg.db_account_source=unknown), never guessed.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import pg from 'pg';
import { LogicalReplicationService, PgoutputPlugin, type Pgoutput } from 'pg-logical-replication';
import { utf8 } from '@candor/core/bytes';
import { CandorError } from '@candor/core/errors';
import { rowKey } from '@candor/schema/rowkey';
import { ActorType, CaptureMethod, ColumnOperation } from '@candor/schema/gen/candor/v1/event_pb';
import { GatewayClient, type GatewayOptions, type Recorded } from '@candor/gateway/client';
import * as B from '@candor/gateway/events';
import { depositOpenings, type OpeningsTarget } from '@candor/gateway/openings';
import { nodeDigest, nodeEd25519, nodeHasher } from '../crypto/node.js';
import { MARK_PREFIX, ROLE_PREFIX, formatLsn, loadTables, parseLsn, qualified, quoteTable, type ColumnValue, type SensitiveColumn, type SensitiveTable } from './tables.js';

export interface CaptureOptions {
  /** postgres://... of the primary; the role needs REPLICATION (and CREATE for --setup). */
  pg: string;
  slot: string;
  publication: string;
  /** The database name recorded in events (default: the connection's database). */
  database?: string;
  tenant: string;
  columns: SensitiveColumn[];
  /** The tenant's row-key secret (src/schema/rowkey.ts), shared with its gateways. */
  rowKeySecret: Uint8Array;
  /** The capture's own secret, from which the salts of its commitments are derived. */
  saltSecret: Uint8Array;
  gateway: Omit<GatewayOptions, 'tenant'>;
  openings: OpeningsTarget;
  /** Remembers the slot between runs, to tell a lost slot from a first start. */
  statePath: string;
  /** Create the publication and set REPLICA IDENTITY FULL where missing. */
  setup?: boolean;
  /** Warn when the slot keeps more WAL than this (bytes). Default 1 GiB. */
  walWarnBytes?: number;
  /** Emit a mark this often when idle, so the slot advances past unrelated WAL. Default 10 s. */
  tickMs?: number;
  /** Events submitted and not yet confirmed before the stream waits. Default 20,000. */
  maxOutstanding?: number;
  /**
   * Confirm at most this often (ms): one standby status update for many commits, as
   * wal_receiver_status_interval does for a physical standby. Default 0: after every commit.
   */
  confirmIntervalMs?: number;
  log?: (line: string) => void;
}

interface State {
  systemIdentifier: string;
  slot: string;
  confirmedLsn: string;
  confirmedAt: string;
}

/** A row change of a sensitive table, as decoded, waiting for its transaction's commit. */
interface RowChange {
  position: number;
  op: ColumnOperation;
  table: SensitiveTable;
  old: Record<string, ColumnValue> | null;
  new: Record<string, ColumnValue> | null;
}

interface Txn {
  xid: number;
  commitLsn: string;
  commitTime: Date;
  position: number;
  changes: RowChange[];
  /** Role messages, at the position of the next row change. */
  roles: { position: number; role: string }[];
}

/**
 * pgoutput with every column left in PostgreSQL's text form: node-postgres's type parsers would
 * turn a timestamp into a Date and a numeric into a float, and the committed value must be the
 * text that `SELECT col::text` gives reconcile. Set while parsing the relation message, before
 * any row of that relation is parsed.
 */
class TextPgoutput extends PgoutputPlugin {
  override parse(buffer: Buffer): Pgoutput.Message {
    const m = super.parse(buffer);
    if (m.tag === 'relation') for (const c of m.columns) c.parser = (raw: unknown) => raw;
    return m;
  }
}

/** Deposits in flight at once. */
const DEPOSITS = 32;

const kdf = (secret: Uint8Array, ...parts: string[]) => hmac(sha256, secret, utf8(`candor/capture-salt/v1\n${parts.join('\n')}`));

export class PostgresCapture {
  readonly #o: Required<Pick<CaptureOptions, 'walWarnBytes' | 'tickMs' | 'maxOutstanding' | 'confirmIntervalMs'>> & CaptureOptions;
  readonly #log: (line: string) => void;
  #sql!: pg.Client;
  #gw!: GatewayClient;
  #service!: LogicalReplicationService;
  #tables = new Map<string, SensitiveTable>();
  #database = '';
  #systemIdentifier = '';
  #txn: Txn | undefined;
  /** The chain of commits in flight: each link confirms its LSN after the previous ones. */
  #tail: Promise<void> = Promise.resolve();
  #outstanding = 0;
  /** The flush position last reported to the slot. */
  #confirmed = 0n;
  /** The end of the last commit whose events are all logged (reported at the next confirm). */
  #logged = 0n;
  #confirmTimer: NodeJS.Timeout | undefined;
  #depositing = 0;
  #depositWaiters: (() => void)[] = [];
  #failed: Error | undefined;
  #stopped = false;
  #timers: NodeJS.Timeout[] = [];
  #stateWritten = 0;
  #done!: { promise: Promise<void>; resolve(): void; reject(e: Error): void };
  /** Counters for the caller (and the tests). */
  readonly stats = { transactions: 0, events: 0, confirmedLsn: '' };

  constructor(o: CaptureOptions) {
    this.#o = { walWarnBytes: 1024 ** 3, tickMs: 10_000, maxOutstanding: 20_000, confirmIntervalMs: 0, ...o };
    this.#log = o.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Prepares the slot (logging a gap if it was lost), then streams until stop() or a failure. */
  async run(): Promise<void> {
    let resolve!: () => void, reject!: (e: Error) => void;
    const promise = new Promise<void>((a, b) => ((resolve = a), (reject = b)));
    this.#done = { promise, resolve, reject };
    this.#sql = new pg.Client({ connectionString: this.#o.pg });
    await this.#sql.connect();
    // Node's crypto for receipts (checkpoint signatures, inclusion proofs): several times the portable default.
    this.#gw = new GatewayClient({
      ed25519: nodeEd25519,
      hasher: nodeHasher,
      digest: nodeDigest,
      ...this.#o.gateway,
      tenant: this.#o.tenant,
      producerInfo: { kind: 'candor-capture-postgres', ...this.#o.gateway.producerInfo },
    });
    try {
      this.#database = this.#o.database ?? (await this.#sql.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
      this.#systemIdentifier = (await this.#sql.query<{ s: string }>('SELECT system_identifier::text AS s FROM pg_control_system()')).rows[0]!.s;
      if (this.#o.setup) await this.#setup();
      this.#tables = await loadTables(this.#sql, this.#o.columns, true);
      await this.#checkPublication();
      const start = await this.#prepareSlot();
      this.#confirmed = this.#logged = start;
      this.stats.confirmedLsn = formatLsn(start);
      await this.#stream(start);
      this.#timers.push(setInterval(() => void this.#tick(), this.#o.tickMs));
      await promise;
    } finally {
      for (const t of this.#timers) clearInterval(t);
      clearTimeout(this.#confirmTimer);
      await this.#service?.stop().catch(() => undefined);
      await this.#gw.close().catch(() => undefined);
      await this.#sql.end().catch(() => undefined);
      if (this.#confirmed > 0n) this.#writeState(true);
    }
  }

  /** Stops after the commits in flight are logged and confirmed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#tail.catch(() => undefined);
    if (!this.#failed && this.#logged > this.#confirmed) await this.#confirm(this.#logged);
    this.#done?.resolve();
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err instanceof Error ? err : new Error(String(err));
    this.#done.reject(this.#failed);
  }

  async #setup(): Promise<void> {
    const byTable = new Map<string, SensitiveColumn>();
    for (const c of this.#o.columns) byTable.set(qualified(c.schema, c.table), c);
    for (const t of byTable.values()) await this.#sql.query(`ALTER TABLE ${quoteTable(t)} REPLICA IDENTITY FULL`);
    const exists = await this.#sql.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [this.#o.publication]);
    const list = [...byTable.values()].map(quoteTable).join(', ');
    if (exists.rows.length === 0) await this.#sql.query(`CREATE PUBLICATION "${this.#o.publication.replace(/"/g, '""')}" FOR TABLE ${list}`);
  }

  async #checkPublication(): Promise<void> {
    const rows = await this.#sql.query<{ t: string }>(`SELECT schemaname || '.' || tablename AS t FROM pg_publication_tables WHERE pubname = $1`, [this.#o.publication]);
    const published = new Set(rows.rows.map((r) => r.t));
    for (const t of this.#tables.keys()) {
      if (!published.has(t)) throw new CandorError('invalid_argument', `publication ${this.#o.publication} does not publish ${t}: ALTER PUBLICATION ${this.#o.publication} ADD TABLE ${t} (or run with --setup)`);
    }
  }

  #readState(): State | undefined {
    try {
      return JSON.parse(readFileSync(this.#o.statePath, 'utf8')) as State;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new CandorError('invalid_argument', `cannot read the capture state ${this.#o.statePath}: ${(err as Error).message}`);
    }
  }

  /** Throttled to once a second: the state only dates a gap, the slot is the real position. */
  #writeState(force = false): void {
    if (!force && Date.now() - this.#stateWritten < 1000) return;
    this.#stateWritten = Date.now();
    const s: State = { systemIdentifier: this.#systemIdentifier, slot: this.#o.slot, confirmedLsn: formatLsn(this.#confirmed), confirmedAt: new Date().toISOString() };
    writeFileSync(`${this.#o.statePath}.tmp`, `${JSON.stringify(s)}\n`);
    renameSync(`${this.#o.statePath}.tmp`, this.#o.statePath);
  }

  /**
   * The slot's confirmed LSN, creating the slot if it is missing. A slot that this capture had
   * (the state file says so) and that is gone or invalidated (wal_status "lost": it passed
   * max_slot_wal_keep_size; or dropped, or not carried over a failover before PostgreSQL 17)
   * means changes were lost: an audit.gap is logged before the capture resumes on a new slot.
   */
  async #prepareSlot(): Promise<bigint> {
    const state = this.#readState();
    const q = await this.#sql.query<{ confirmed_flush_lsn: string | null; wal_status: string | null; plugin: string }>(
      'SELECT confirmed_flush_lsn::text, wal_status, plugin FROM pg_replication_slots WHERE slot_name = $1',
      [this.#o.slot],
    );
    let slot: (typeof q.rows)[number] | undefined = q.rows[0];
    if (slot && slot.plugin !== 'pgoutput') throw new CandorError('invalid_argument', `replication slot ${this.#o.slot} uses ${slot.plugin}, not pgoutput`);
    let reason: string | undefined;
    if (slot && slot.wal_status === 'lost') {
      reason = `replication slot ${this.#o.slot} was invalidated (wal_status lost: it kept more WAL than max_slot_wal_keep_size)`;
      await this.#sql.query('SELECT pg_drop_replication_slot($1)', [this.#o.slot]);
      slot = undefined;
    } else if (!slot && state) {
      reason = `replication slot ${this.#o.slot} is missing (dropped, or lost in a failover)`;
    }
    if (reason && state) {
      this.#log(`capture: ${reason}; changes after ${state.confirmedLsn} (${state.confirmedAt}) may be missing: logging audit.gap`);
      const d = B.producer.gap({
        actor: { id: this.#o.gateway.producer, type: ActorType.SYSTEM },
        eventId: `pg/${this.#systemIdentifier}/gap/${state.confirmedLsn}`,
        producerEventId: `pg/${this.#systemIdentifier}/gap/${state.confirmedLsn}`,
        occurredAt: new Date(state.confirmedAt),
        reason,
        from: new Date(state.confirmedAt),
        resource: { name: this.#database, type: 'postgresql' },
        labels: { 'pg.slot': this.#o.slot, 'pg.from_lsn': state.confirmedLsn },
      });
      await this.#gw.record(d.init, d.openings);
    }
    if (!slot) {
      const c = await this.#sql.query<{ lsn: string }>(`SELECT lsn::text FROM pg_create_logical_replication_slot($1, 'pgoutput')`, [this.#o.slot]);
      this.#log(`capture: created replication slot ${this.#o.slot} at ${c.rows[0]!.lsn}`);
      this.#confirmed = parseLsn(c.rows[0]!.lsn);
      this.#writeState(true);
      return this.#confirmed;
    }
    return parseLsn(slot.confirmed_flush_lsn ?? '0/0');
  }

  async #stream(start: bigint): Promise<void> {
    // Manual acknowledgement only: the library's timer would otherwise confirm the last LSN
    // *received* every timeoutSeconds, before the log has the events. Flow control: one message
    // at a time, in order, so a commit is handled after its changes.
    this.#service = new LogicalReplicationService(
      { connectionString: this.#o.pg },
      { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } },
    );
    this.#service.on('data', (lsn: string, m: Pgoutput.Message) => this.#onMessage(lsn, m));
    this.#service.on('heartbeat', (_lsn: string, _t: number, reply: boolean) => {
      if (reply) void this.#confirm(this.#confirmed);
    });
    this.#service.on('error', (err: Error) => this.#fail(err));
    const plugin = new TextPgoutput({ protoVersion: 1, publicationNames: [this.#o.publication], messages: true });
    this.#service.subscribe(plugin, this.#o.slot, formatLsn(start)).then(
      () => {
        if (!this.#stopped) this.#fail(new CandorError('unavailable', 'the replication stream ended'));
      },
      (err) => this.#fail(err),
    );
    await new Promise<void>((resolve, reject) => {
      this.#service.once('start', () => resolve());
      this.#done.promise.catch(reject);
    });
    this.#log(`capture: streaming slot ${this.#o.slot} of ${this.#database} from ${formatLsn(start)} (publication ${this.#o.publication})`);
  }

  async #onMessage(lsn: string, m: Pgoutput.Message): Promise<void> {
    if (this.#failed) return;
    try {
      switch (m.tag) {
        case 'begin':
          this.#txn = { xid: m.xid, commitLsn: m.commitLsn!, commitTime: new Date(Number(m.commitTime as bigint) / 1000), position: 0, changes: [], roles: [] };
          return;
        case 'insert':
          return this.#row(ColumnOperation.INSERT, m.relation, null, m.new);
        case 'update':
          return this.#row(ColumnOperation.UPDATE, m.relation, m.old, m.new);
        case 'delete':
          return this.#row(ColumnOperation.DELETE, m.relation, m.old, null);
        case 'truncate':
          for (const r of m.relations) this.#row(ColumnOperation.TRUNCATE, r, null, null);
          return;
        case 'message':
          if (m.prefix === ROLE_PREFIX && m.transactional && this.#txn) {
            this.#txn.roles.push({ position: this.#txn.position, role: Buffer.from(m.content).toString('utf8') });
          } else if (m.prefix === MARK_PREFIX && !m.transactional) {
            await this.#enqueue([], parseLsn(m.messageLsn ?? lsn));
          }
          return;
        case 'commit':
          return await this.#commit(parseLsn(m.commitEndLsn!));
        default:
          return;
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  #row(op: ColumnOperation, relation: Pgoutput.MessageRelation, old: Record<string, unknown> | null, now: Record<string, unknown> | null): void {
    const txn = this.#txn;
    if (!txn) throw new CandorError('internal', 'a row change outside a transaction');
    const position = txn.position++;
    const table = this.#tables.get(qualified(relation.schema, relation.name));
    if (!table) return;
    if (op === ColumnOperation.UPDATE && !old) {
      throw new CandorError('invalid_argument', `an UPDATE of ${qualified(relation.schema, relation.name)} came without old values: the table's replica identity is no longer FULL`);
    }
    txn.changes.push({ position, op, table, old: old as Record<string, ColumnValue> | null, new: now as Record<string, ColumnValue> | null });
  }

  /**
   * The role a change ran as: that of the first role message after it in its transaction (the
   * AFTER trigger of its own statement, which fires after the statement's rows), else of the last
   * one before it, else unknown. A message's position is that of the next row change.
   */
  static roleAt(roles: Txn['roles'], position: number): string | undefined {
    return roles.find((r) => r.position > position)?.role ?? roles.filter((r) => r.position <= position).pop()?.role;
  }

  async #commit(endLsn: bigint): Promise<void> {
    const txn = this.#txn;
    this.#txn = undefined;
    if (!txn) throw new CandorError('internal', 'a commit without a transaction');
    const drafts = txn.changes.flatMap((c) => this.#drafts(txn, c));
    this.stats.transactions++;
    await this.#enqueue(drafts, endLsn);
  }

  /** Submits a commit's events and chains its confirmation after the commits before it. */
  async #enqueue(drafts: B.Draft[], endLsn: bigint): Promise<void> {
    const logged = Promise.all(drafts.map((d) => this.#gw.record(d.init, d.openings).then((r) => this.#deposit(r))));
    logged.catch(() => undefined);
    this.#outstanding += drafts.length;
    this.#tail = this.#tail.then(async () => {
      await logged;
      this.#outstanding -= drafts.length;
      this.stats.events += drafts.length;
      if (endLsn > this.#logged) this.#advance(endLsn);
    });
    this.#tail.catch((err) => this.#fail(err));
    // Backpressure: the stream (paused while this handler runs) waits for the log.
    if (this.#outstanding > this.#o.maxOutstanding) await this.#tail;
  }

  /**
   * Deposits an event's openings: at most DEPOSITS requests at once (a transaction of thousands
   * of rows would otherwise open thousands of connections), retried with backoff while the log
   * is unreachable or busy; a refusal is final.
   */
  async #deposit(r: Recorded): Promise<void> {
    if (r.openings.length === 0) return;
    while (this.#depositing >= DEPOSITS) await new Promise<void>((w) => this.#depositWaiters.push(w));
    this.#depositing++;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await depositOpenings(this.#o.openings, r);
          return;
        } catch (err) {
          const code = err instanceof CandorError ? err.code : 'unavailable';
          if ((code !== 'unavailable' && code !== 'rate_limited' && code !== 'resource_exhausted') || attempt >= 10) throw err;
          await new Promise((w) => setTimeout(w, Math.random() * Math.min(5000, 50 * 2 ** attempt)));
        }
      }
    } finally {
      this.#depositing--;
      this.#depositWaiters.shift()?.();
    }
  }

  #advance(lsn: bigint): void {
    this.#logged = lsn;
    if (this.#o.confirmIntervalMs === 0) return void this.#confirm(lsn);
    this.#confirmTimer ??= setTimeout(() => {
      this.#confirmTimer = undefined;
      void this.#confirm(this.#logged);
    }, this.#o.confirmIntervalMs);
  }

  /**
   * A standby status update with flush position `lsn` (the end of the last logged commit). The
   * library reports the LSN it is given plus one, so it is given lsn - 1: reporting past the
   * commit's end could skip a transaction whose commit record starts exactly there.
   */
  async #confirm(lsn: bigint): Promise<void> {
    if (this.#failed || lsn === 0n) return;
    this.#confirmed = lsn;
    this.stats.confirmedLsn = formatLsn(lsn);
    await this.#service.acknowledge(formatLsn(lsn - 1n));
    this.#writeState();
  }

  #drafts(txn: Txn, c: RowChange): B.Draft[] {
    const role = PostgresCapture.roleAt(txn.roles, c.position);
    const t = c.table;
    const source = c.op === ColumnOperation.DELETE ? c.old : c.new;
    const pk = c.op === ColumnOperation.TRUNCATE ? undefined : t.primaryKey.map((k) => source?.[k]);
    if (pk && pk.some((v) => v === null || v === undefined)) throw new CandorError('internal', `a row of ${qualified(t.schema, t.table)} without its primary key`);
    const key = pk ? rowKey(this.#o.rowKeySecret, { database: this.#database, schema: t.schema, table: t.table, primaryKey: pk as string[] }) : '*';
    const out: B.Draft[] = [];
    for (const [column, valueClass] of t.columns) {
      const before = c.old ? (c.old[column] ?? null) : undefined;
      const after = c.new ? (c.new[column] ?? null) : undefined;
      if (c.op === ColumnOperation.UPDATE && before === after) continue;
      const id = `pg/${this.#systemIdentifier}/${txn.commitLsn}/${c.position}/${column}`;
      const nulls = [before === null ? 'old' : '', after === null ? 'new' : ''].filter(Boolean).join(',');
      out.push(
        B.column.changed({
          eventId: id,
          producerEventId: id,
          occurredAt: txn.commitTime,
          actor: role === undefined ? { id: 'unknown', type: ActorType.SERVICE } : { id: role, type: ActorType.SERVICE },
          resource: { name: this.#database, type: 'postgresql' },
          object: { database: this.#database, schema: t.schema, name: t.table, kind: 'table', columns: [column] },
          labels: {
            'pg.commit_lsn': txn.commitLsn,
            'pg.position': String(c.position),
            'pg.db_account_source': role === undefined ? 'unknown' : 'pg_logical_emit_message',
            ...(nulls ? { 'pg.null': nulls } : {}),
          },
          database: this.#database,
          schema: t.schema,
          table: t.table,
          column,
          rowKey: key,
          operation: c.op,
          ...(before !== undefined ? { oldValue: before ?? '' } : {}),
          ...(after !== undefined ? { newValue: after ?? '' } : {}),
          salts: { oldValue: kdf(this.#o.saltSecret, id, 'old_value'), newValue: kdf(this.#o.saltSecret, id, 'new_value') },
          valueClass,
          captureMethod: CaptureMethod.LOGICAL_DECODING,
          dbAccount: role ?? 'unknown',
          changedAt: txn.commitTime,
          txid: String(txn.xid),
          oldValueAuthoritative: before !== undefined,
        }),
      );
    }
    return out;
  }

  /**
   * When idle: a mark moves the slot past WAL that holds no sensitive change (otherwise a busy
   * database with quiet sensitive tables keeps all its WAL for the slot), and the WAL the slot
   * keeps is checked against the warning threshold.
   */
  async #tick(): Promise<void> {
    if (this.#failed || this.#stopped) return;
    try {
      if (this.#outstanding === 0 && !this.#txn) await this.#sql.query(`SELECT pg_logical_emit_message(false, '${MARK_PREFIX}', 'tick')`);
      const r = await this.#sql.query<{ retained: string | null; wal_status: string | null }>(
        'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained, wal_status FROM pg_replication_slots WHERE slot_name = $1',
        [this.#o.slot],
      );
      const retained = Number(r.rows[0]?.retained ?? 0);
      if (retained > this.#o.walWarnBytes) {
        this.#log(`capture: warning: slot ${this.#o.slot} keeps ${(retained / 1024 ** 2).toFixed(0)} MiB of WAL (wal_status ${r.rows[0]?.wal_status}); set max_slot_wal_keep_size to bound it (docs/capture.md)`);
      }
    } catch (err) {
      this.#log(`capture: idle check failed: ${(err as Error).message}`);
    }
  }
}
