/**
 * High availability: several `candor serve` processes on one shared store (the cloud driver's
 * bucket and PostgreSQL), one leader at a time (docs/deployment.md, "High availability").
 *
 * Every node polls the leader lease (src/storage/lease.ts). The node holding it runs the log as
 * usual: it sequences, and renews the lease every leaseMs/5. The others run it as followers: they
 * reload the tree from the store's checkpoint as it moves (Sequencer.follow), serve every read, and
 * forward writes to the leader's advertised URL (src/http/forward.ts).
 *
 * A change of role restarts the log in this process on the same ports, so that a new leader goes
 * through exactly the checks of a start-up: the store's open republishes a batch staged but not
 * published, refuses a database behind the bucket's checkpoint or behind recorded evidence (naming
 * both sizes), checks the tiles against the checkpoint, and the idempotency index replays the
 * leaves it has not indexed. A leader that cannot renew before its lease runs out by its own clock,
 * or whose commit is fenced, stops sequencing at once and becomes a follower.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { CandorError } from '@candor/core/errors';
import { startLog, type RunningLog } from '../app.js';
import type { Config } from '../config.js';
import { LEASE_MS } from '../storage/open.js';
import type { NodeRole } from '../log/service.js';
import type { LeaderLease } from '../storage/lease.js';

/** This node's role, lease term, where writes go and a follower's lag (GET /readyz, /metrics). */
export type RoleStatus = NodeRole;

export interface HaLogger {
  info(msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Test-only (test/ha's negative control, with the cloud store's unfenced compare-and-swap): a
 * leader that loses its lease goes on sequencing. Never set it elsewhere.
 */
const UNFENCED = process.env.CANDOR_TEST_DISABLE_FENCING === '1';

/** After a takeover refused (the store is behind what was published), wait this many lease periods. */
const REFUSED_BACKOFF_LEASES = 5;

export class HaNode {
  /** This process's identity in the lease row: a restarted process is a new holder (a new term). */
  readonly id = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  readonly #config: Config;
  readonly #lease: LeaderLease;
  readonly #leaseMs: number;
  readonly #logger: HaLogger;
  #log: RunningLog | undefined;
  #status: RoleStatus = { role: 'follower', term: 0, lagEntries: 0, lagMs: 0 };
  #url = '';
  /** performance.now() until which this node may act as leader (its lease, less a margin). */
  #validUntil = 0;
  #renewing = false;
  #timer: NodeJS.Timeout | undefined;
  #busy: Promise<void> = Promise.resolve();
  #caughtUpAt = performance.now();
  #noTakeoverUntil = 0;
  #closed = false;
  /** Called with each log started (the first serves the CLI's banner). */
  onStarted: ((log: RunningLog, status: RoleStatus) => void) | undefined;

  constructor(config: Config, lease: LeaderLease, logger: HaLogger) {
    if (config.storage.driver !== 'cloud') throw new CandorError('invalid_argument', 'high availability needs a store several nodes share (storage driver cloud)');
    this.#config = { ...config };
    this.#lease = lease;
    this.#leaseMs = config.storage.leaseMs ?? LEASE_MS;
    this.#logger = logger;
  }

  get status(): RoleStatus {
    return this.#status;
  }

  get log(): RunningLog | undefined {
    return this.#log;
  }

  /** Takes a role (leading if the lease is free) and keeps checking it every leaseMs/5. */
  async start(): Promise<void> {
    await this.#tick();
    this.#timer = setInterval(() => {
      if (this.#status.role === 'leader') this.#keepLease();
      this.#busy = this.#busy.then(() => this.#tick()).catch((err) => this.#logger.error({ err }, 'high availability: checking the lease failed'));
    }, Math.max(100, Math.floor(this.#leaseMs / 5)));
  }

  /** One step: a follower follows and takes an expired lease; a leader checks it still leads. */
  async #tick(): Promise<void> {
    if (this.#closed) return;
    if (this.#status.role === 'leader') {
      if (UNFENCED) return;
      const seq = this.#log?.sequencer;
      if (performance.now() > this.#validUntil) await this.#demote(`its lease (term ${this.#status.term}) ran out before it could renew it`);
      else if (seq?.fenced) await this.#demote(seq.fenced.message, true);
      return;
    }
    const lease = await this.#lease.current();
    if ((!lease || lease.remainingMs <= 0) && performance.now() >= this.#noTakeoverUntil) {
      const t0 = performance.now();
      const term = await this.#lease.acquire(this.id, this.#advertised(), this.#leaseMs);
      if (term !== undefined) return this.#promote(term, t0);
    }
    const leader = lease && lease.remainingMs > 0 ? lease : undefined;
    this.#status = { ...this.#status, role: 'follower', term: leader?.term ?? lease?.term ?? 0, ...(leader ? { leader: leader.url } : { leader: undefined }) };
    if (!this.#log) await this.#startFollower();
    const log = this.#log;
    if (!log) return;
    log.sequencer.notLeader(leader ? `this node follows; the leader is ${leader.url} (term ${leader.term}): send writes there` : 'this node follows and no node leads right now (a takeover is under way); retry');
    // Lag: what the store has committed beyond what this node serves, before it catches up, and
    // how long ago it last caught up (a follower that cannot read the store falls behind here).
    const served = log.sequencer.size;
    try {
      const size = await log.sequencer.follow();
      this.#status.lagEntries = Math.max(0, size - served);
      this.#caughtUpAt = performance.now();
    } finally {
      this.#status.lagMs = Math.round(performance.now() - this.#caughtUpAt);
      this.#publishStatus();
    }
  }

  /** The leader renews off the serial tick, so a slow role change never lets the lease lapse. */
  #keepLease(): void {
    if (this.#renewing) return;
    this.#renewing = true;
    const t0 = performance.now();
    this.#lease
      .renew(this.id, this.#status.term, this.#leaseMs)
      .then(
        (held) => {
          if (held) this.#validUntil = t0 + this.#leaseMs * 0.8;
          else if (this.#status.role === 'leader' && !UNFENCED) {
            // Another node has it: stop signing now; the next tick turns this node into a follower.
            this.#validUntil = 0;
            this.#log?.sequencer.stepDown(`this node lost its lease (term ${this.#status.term}) to another node`);
          }
        },
        (err) => this.#logger.error({ err }, 'high availability: renewing the lease failed'),
      )
      .finally(() => (this.#renewing = false));
  }

  async #promote(term: number, t0: number): Promise<void> {
    this.#validUntil = t0 + this.#leaseMs * 0.8;
    this.#status = { role: 'leader', term, leader: this.#advertised(), lagEntries: 0, lagMs: 0 };
    this.#logger.info(`high availability: this node took the lease (term ${term}) and starts sequencing`);
    await this.#stopLog();
    try {
      await this.#startLog();
    } catch (err) {
      // The store refuses (behind what was published, tiles that disagree): leave the lease to
      // no one for a while and serve reads; /readyz says why.
      this.#logger.error({ err }, `high availability: refusing to lead (term ${term})`);
      await this.#lease.release(this.id, term).catch(() => undefined);
      this.#noTakeoverUntil = performance.now() + REFUSED_BACKOFF_LEASES * this.#leaseMs;
      this.#status = { role: 'follower', term, lagEntries: 0, lagMs: 0 };
      await this.#startFollower();
      this.#log?.sequencer.notLeader(`this node refused to lead: ${(err as Error).message}`);
    }
  }

  async #demote(reason: string, release = false): Promise<void> {
    this.#logger.error({}, `high availability: this node stops sequencing: ${reason}`);
    this.#log?.sequencer.stepDown(reason);
    if (release) await this.#lease.release(this.id, this.#status.term).catch(() => undefined);
    this.#status = { role: 'follower', term: this.#status.term, lagEntries: 0, lagMs: 0 };
    await this.#stopLog();
    await this.#startFollower();
  }

  async #startFollower(): Promise<void> {
    try {
      await this.#startLog();
    } catch (err) {
      // A new store with no checkpoint yet: the leader creates it; try again at the next tick.
      if (!(err instanceof CandorError && err.code === 'unavailable')) throw err;
    }
  }

  async #startLog(): Promise<void> {
    const follower = this.#status.role === 'follower';
    const log = await startLog(this.#config, { follower, role: () => this.#status });
    this.#log = log;
    // Later restarts bind the same ports, so clients and the lease row keep finding this node.
    this.#config.http = new URL(log.url).host;
    if (log.grpc) this.#config.grpc = log.grpc.address;
    if (log.admin) this.#config.admin = new URL(log.admin.url).host;
    this.#url = log.url;
    if (!follower) {
      // The lease was taken before this node knew its URL: write it where followers look for it.
      const t0 = performance.now();
      const term = await this.#lease.acquire(this.id, this.#advertised(), this.#leaseMs);
      if (term !== this.#status.term) log.sequencer.stepDown(`this node lost its lease (term ${this.#status.term}) while starting`);
      else this.#validUntil = t0 + this.#leaseMs * 0.8;
      this.#status.leader = this.#advertised();
    }
    this.#publishStatus();
    this.onStarted?.(log, this.#status);
  }

  async #stopLog(): Promise<void> {
    const log = this.#log;
    this.#log = undefined;
    await log?.close().catch((err) => this.#logger.error({ err }, 'high availability: closing the log failed'));
  }

  #advertised(): string {
    return this.#config.storage.driver === 'cloud' ? (this.#config.storage.advertise ?? this.#url) : this.#url;
  }

  #publishStatus(): void {
    const m = this.#log?.metrics;
    if (!m) return;
    m.haLeader.set(this.#status.role === 'leader' ? 1 : 0);
    m.haTerm.set(this.#status.term);
    m.haLagEntries.set(this.#status.lagEntries);
    m.haLagSeconds.set(this.#status.lagMs / 1000);
  }

  /** Stops: a leader commits what it queued, then hands the lease over at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#busy;
    const leading = this.#status.role === 'leader';
    await this.#stopLog();
    if (leading) await this.#lease.release(this.id, this.#status.term).catch(() => undefined);
    await this.#lease.close();
  }
}
