/**
 * Log-side witnessing (c2sp.org/tlog-witness, client side): after each commit the sequencer emits
 * its new checkpoint; this module gets it cosigned by the configured witnesses, collects the
 * cosignatures, and decides what /checkpoint publishes and when a witnessed acknowledgement may be
 * answered.
 *
 * Nothing here is on the commit path: the sequencer never waits for a witness. Each witness has
 * at most one request in flight, bounded by a timeout; a witness that fails is retried with
 * exponential backoff. Requests are organised in rounds so that witnesses cosign the *same*
 * checkpoint (a cosignature only counts for the exact checkpoint it signs): a round's target is the
 * newest checkpoint when the round starts, and the next round starts, with the newest checkpoint
 * again, as soon as the target meets the policy or every witness has either answered or is backing
 * off. Checkpoints committed meanwhile are skipped (coalesced): a slow witness gets the newest
 * checkpoint, never a backlog, and a dead one cannot hold up a policy the others can meet.
 *
 * Each request sends `old <size>` with the size the witness last cosigned, as far as the log knows,
 * and the consistency proof from that size (LogService.consistencyProof). A 409 answer carries the
 * witness's real size (text/x.tlog.size); the request is rebuilt from it and retried at once.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { formatSignature, openNote, parseNote, type NoteSignature, type NoteVerifier } from '@candor/core/note';
import { addCheckpoint, type AddCheckpointOutcome } from './client.js';
import type { WitnessingConfig } from './config.js';
import type { WitnessingMetrics } from './metrics.js';
import type { PolicyWitness } from './policy.js';

/** The log's checkpoints: the sequencer emits 'checkpoint' (note, size) after every commit. */
export interface CheckpointSource {
  readonly checkpoint: string;
  on(event: 'checkpoint', fn: (note: string, size: number) => void): unknown;
  off(event: 'checkpoint', fn: (note: string, size: number) => void): unknown;
}

/** Builds consistency proofs over the committed tree (LogService). */
export interface ConsistencyProver {
  consistencyProof(q: { from: number; to?: number }): Promise<{ proof: Uint8Array[] }>;
}

type LogFn = (obj: object, msg: string) => void;
export interface WitnessingLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** Immediate retries after 409s within one attempt (each 409 teaches the witness's real size). */
const MAX_CONFLICTS = 3;

/** A checkpoint the log signed and the cosignatures collected for exactly that checkpoint. */
class Tracked {
  readonly note: string;
  readonly text: string;
  readonly size: number;
  /** Witness name -> its verified cosignature. */
  readonly cosignatures = new Map<string, NoteSignature>();
  satisfied = false;
  #assembled: string | undefined;

  constructor(note: string, size: number) {
    this.note = note;
    this.text = parseNote(note).text;
    this.size = size;
  }

  add(witness: string, sig: NoteSignature): void {
    this.cosignatures.set(witness, sig);
    this.#assembled = undefined;
  }

  /** The log-signed note followed by the cosignature lines, in policy order. */
  assemble(order: readonly PolicyWitness[]): string {
    if (this.#assembled === undefined) {
      let out = this.note;
      for (const w of order) {
        const sig = this.cosignatures.get(w.name);
        if (sig) out += formatSignature(sig);
      }
      this.#assembled = out;
    }
    return this.#assembled;
  }
}

interface WitnessState {
  readonly spec: PolicyWitness;
  readonly url: string;
  /** The size this witness last cosigned for the log, as far as the log knows (0 if unknown). */
  known: number;
  busy: boolean;
  /** The round target this witness last finished an attempt at. */
  attempted: Tracked | undefined;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
  lastStatus: string;
  lastError: string | undefined;
}

export interface WitnessStatus {
  name: string;
  url: string;
  /** The size this witness last cosigned, as far as the log knows. */
  cosignedSize: number;
  lastStatus: string;
  lastError?: string;
  failures: number;
}

export interface WitnessedCheckpoint {
  /** The checkpoint with the log's signature and the cosignatures collected. */
  note: string;
  size: number;
}

interface Waiter {
  size: number;
  resolve(c: WitnessedCheckpoint): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

interface PersistedState {
  origin: string;
  /** Witness name -> the size it last cosigned, as far as the log knew. */
  witnesses: Record<string, number>;
  /** The latest checkpoint that met the policy, with its cosignatures. */
  published?: string;
}

export interface LogWitnessingOptions {
  config: WitnessingConfig;
  origin: string;
  /** The log's keys: the persisted published checkpoint must carry a valid log signature. */
  logVerifiers: readonly NoteVerifier[];
  /** Where the witnesses' sizes and the latest witnessed checkpoint are kept across restarts. */
  stateFile?: string;
  metrics?: WitnessingMetrics;
}

export class LogWitnessing {
  readonly config: WitnessingConfig;
  readonly #o: LogWitnessingOptions;
  readonly #witnesses: WitnessState[];
  readonly #stop = new AbortController();
  #source: CheckpointSource | undefined;
  #prover: ConsistencyProver | undefined;
  #log: WitnessingLogger | undefined;
  #latest: Tracked | undefined;
  #target: Tracked | undefined;
  #published: Tracked | undefined;
  #waiters: Waiter[] = [];
  #running = new Set<Promise<void>>();
  #persisting: Promise<void> | undefined;
  #persistAgain = false;
  /** Told when a witness has cosigned a larger tree than the log holds (the log steps down: docs/fencing.md). */
  #onAhead: ((size: number, witness: string) => void) | undefined;
  readonly #onCheckpoint = (note: string, size: number) => this.#checkpoint(note, size);

  constructor(opts: LogWitnessingOptions) {
    this.#o = opts;
    this.config = opts.config;
    this.#witnesses = opts.config.policy.witnesses.map((spec) => ({
      spec,
      url: spec.url!,
      known: 0,
      busy: false,
      attempted: undefined,
      failures: 0,
      retryTimer: undefined,
      lastStatus: 'none',
      lastError: undefined,
    }));
  }

  /** Starts following the log's checkpoints; the current one is submitted at once. */
  async start(opts: { source: CheckpointSource; prover: ConsistencyProver; logger?: WitnessingLogger; onAhead?: (size: number, witness: string) => void }): Promise<void> {
    this.#source = opts.source;
    this.#onAhead = opts.onAhead;
    this.#prover = opts.prover;
    this.#log = opts.logger;
    // Tree sizes only grow, so the size read before the restore bounds what may be restored.
    await this.#restore(parseCheckpoint(parseNote(opts.source.checkpoint).text).size);
    const current = opts.source.checkpoint;
    const size = parseCheckpoint(parseNote(current).text).size;
    this.#latest = this.#published?.note === current ? this.#published : new Tracked(current, size);
    this.#target = this.#latest;
    opts.source.on('checkpoint', this.#onCheckpoint);
    this.#kickAll();
  }

  /** Stops: aborts requests in flight, fails waiting acknowledgements, saves the state. */
  async stop(): Promise<void> {
    if (this.#stop.signal.aborted) return;
    this.#source?.off('checkpoint', this.#onCheckpoint);
    this.#stop.abort();
    for (const w of this.#witnesses) clearTimeout(w.retryTimer);
    const e = new CandorError('unavailable', 'the log is shutting down; retry (the entry is logged and will not be duplicated)', { retryAfterMs: 1000 });
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(e);
    }
    await Promise.allSettled([...this.#running]);
    this.#persist();
    while (this.#persisting) await this.#persisting;
  }

  /**
   * The checkpoint /checkpoint serves: in "before" mode the newest, with the cosignatures it has so
   * far; in "after" mode the newest that meets the policy (unavailable until there is one).
   */
  published(): string {
    const order = this.config.policy.witnesses;
    if (this.config.publish === 'before') return this.#latest!.assemble(order);
    if (this.#published === undefined) {
      throw new CandorError('unavailable', 'no checkpoint of this log has met its witness policy yet; retry shortly', { retryAfterMs: 1000 });
    }
    return this.#published.assemble(order);
  }

  /** The newest checkpoint that meets the policy, if any. */
  witnessedCheckpoint(): WitnessedCheckpoint | undefined {
    const p = this.#published;
    return p && { note: p.assemble(this.config.policy.witnesses), size: p.size };
  }

  /**
   * Resolves with the first checkpoint of at least `size` leaves that meets the policy; rejects
   * with a retryable CandorError after `timeoutMs` (default: the configured ackTimeoutMs).
   */
  witnessed(size: number, timeoutMs = this.config.ackTimeoutMs): Promise<WitnessedCheckpoint> {
    const started = performance.now();
    const done = (outcome: string) => this.#o.metrics?.ackWaitSeconds.observe({ outcome }, (performance.now() - started) / 1000);
    const p = this.#published;
    if (p !== undefined && p.size >= size) {
      done('witnessed');
      return Promise.resolve({ note: p.assemble(this.config.policy.witnesses), size: p.size });
    }
    if (this.#stop.signal.aborted) return Promise.reject(new CandorError('unavailable', 'the log is shutting down', { retryAfterMs: 1000 }));
    return new Promise<WitnessedCheckpoint>((resolve, reject) => {
      const waiter: Waiter = {
        size,
        resolve: (c) => {
          done('witnessed');
          resolve(c);
        },
        reject: (e) => {
          done('failed');
          reject(e);
        },
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((x) => x !== waiter);
          done('timeout');
          reject(
            new CandorError(
              'unavailable',
              `the entry is logged (tree size ${size}), but no checkpoint covering it met the witness policy (${this.config.policy.description}) within ${timeoutMs} ms; retry the same request: it is not logged twice`,
              { retryAfterMs: 1000 },
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** Each witness as the log sees it, for operators and tests. */
  status(): WitnessStatus[] {
    return this.#witnesses.map((w) => ({
      name: w.spec.name,
      url: w.url,
      cosignedSize: w.known,
      lastStatus: w.lastStatus,
      ...(w.lastError === undefined ? {} : { lastError: w.lastError }),
      failures: w.failures,
    }));
  }

  #checkpoint(note: string, size: number): void {
    // A commit of duplicates only re-signs the same tree: nothing new to witness.
    if (this.#latest !== undefined && size <= this.#latest.size) return;
    this.#latest = new Tracked(note, size);
    this.#advance();
  }

  /** Starts the next round if the current one is over (see the module comment). */
  #advance(): void {
    const target = this.#target;
    const latest = this.#latest;
    if (target === undefined || latest === undefined || target === latest || this.#stop.signal.aborted) return;
    const over = target.satisfied || this.#witnesses.every((w) => (w.attempted === target && !w.busy) || w.retryTimer !== undefined);
    if (!over) return;
    this.#target = latest;
    this.#kickAll();
  }

  #kickAll(): void {
    for (const w of this.#witnesses) this.#kick(w);
  }

  #kick(w: WitnessState): void {
    const target = this.#target;
    if (w.busy || w.retryTimer !== undefined || target === undefined || w.attempted === target || this.#stop.signal.aborted) return;
    w.busy = true;
    const run = this.#attempt(w, target)
      .catch((err) => this.#failed(w, 'error', (err as Error).message))
      .finally(() => {
        this.#running.delete(run);
        w.busy = false;
        w.attempted = target;
        this.#advance();
        this.#kick(w);
      });
    this.#running.add(run);
  }

  /** One attempt to get `t` cosigned by `w`, following 409s. */
  async #attempt(w: WitnessState, t: Tracked): Promise<void> {
    for (let conflicts = 0; ; conflicts++) {
      if (w.known > t.size) {
        if (conflicts === 0) {
          // Possibly a stale hint (saved state): ask, and let the witness's 409 say its size.
          w.known = 0;
        } else {
          // The witness cosigned a larger tree of this origin than the log has: this log was rolled
          // back (restored from an old backup?) or someone else signs with its key. Nothing the log
          // signs now can be cosigned until it is past that size; this needs an operator.
          this.#failed(w, 'ahead', `the witness has cosigned size ${w.known} of this log, but the log is at size ${t.size}: was the log rolled back?`, 'error');
          this.#onAhead?.(w.known, w.spec.name);
          return;
        }
      }
      const old = w.known;
      const proof = old > 0 && old < t.size ? (await this.#prover!.consistencyProof({ from: old, to: t.size })).proof : [];
      const started = performance.now();
      const out: AddCheckpointOutcome = await addCheckpoint({
        url: w.url,
        oldSize: old,
        proof,
        note: t.note,
        text: t.text,
        verifier: w.spec.verifier,
        timeoutMs: this.config.timeoutMs,
        signal: this.#stop.signal,
      });
      if (out.kind === 'failed' && out.status === 'stopped') return;
      const status = String(out.status);
      this.#o.metrics?.requests.inc({ witness: w.spec.name, status });
      this.#o.metrics?.requestSeconds.observe({ witness: w.spec.name, status }, (performance.now() - started) / 1000);
      if (out.kind === 'cosigned') {
        this.#cosigned(w, t, out.cosignature);
        return;
      }
      if (out.kind === 'conflict') {
        w.known = out.size;
        w.lastStatus = status;
        this.#log?.debug({ witness: w.spec.name, old, size: out.size }, 'witness reported its cosigned size (409); retrying from it');
        if (conflicts + 1 < MAX_CONFLICTS) continue;
        this.#failed(w, status, `409 ${MAX_CONFLICTS} times in a row`);
        return;
      }
      this.#failed(w, status, out.message, out.kind === 'refused' ? 'warn' : undefined);
      return;
    }
  }

  #cosigned(w: WitnessState, t: Tracked, sig: NoteSignature): void {
    if (w.failures > 0) this.#log?.info({ witness: w.spec.name, size: t.size }, 'witness is cosigning again');
    w.failures = 0;
    w.lastStatus = '200';
    w.lastError = undefined;
    w.known = t.size;
    this.#o.metrics?.cosignedSize.set({ witness: w.spec.name }, t.size);
    t.add(w.spec.name, sig);
    if (!t.satisfied && this.config.policy.satisfiedByNames(new Set(t.cosignatures.keys()))) {
      t.satisfied = true;
      if (this.#published === undefined || t.size > this.#published.size) {
        this.#published = t;
        this.#o.metrics?.witnessedSize.set(t.size);
        this.#wake(t);
      }
    }
    this.#persist();
  }

  /** Answers the witnessed acknowledgements that `t` covers. */
  #wake(t: Tracked): void {
    const ready = this.#waiters.filter((x) => x.size <= t.size);
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((x) => x.size > t.size);
    const c = { note: t.assemble(this.config.policy.witnesses), size: t.size };
    for (const x of ready) {
      clearTimeout(x.timer);
      x.resolve(c);
    }
  }

  #failed(w: WitnessState, status: string, message: string, level?: 'warn' | 'error'): void {
    if (status === 'ahead' || status === 'error') this.#o.metrics?.requests.inc({ witness: w.spec.name, status });
    w.failures++;
    w.lastStatus = status;
    w.lastError = message;
    // Log the first failure of a streak loudly, the rest quietly: a dead witness must not flood the log.
    const lvl = level ?? (w.failures === 1 ? 'warn' : 'debug');
    this.#log?.[lvl]({ witness: w.spec.name, url: w.url, status, failures: w.failures, reason: message }, 'witness did not cosign');
    const delay = Math.min(this.config.maxRetryMs, this.config.retryMs * 2 ** Math.min(w.failures - 1, 30));
    w.retryTimer = setTimeout(() => {
      w.retryTimer = undefined;
      w.attempted = undefined;
      this.#kick(w);
    }, delay);
    w.retryTimer.unref();
  }

  /** Loads the saved state: witness sizes as hints, and the latest witnessed checkpoint if still valid. */
  async #restore(currentSize: number): Promise<void> {
    const file = this.#o.stateFile;
    if (file === undefined) return;
    let saved: PersistedState;
    try {
      saved = JSON.parse(await readFile(file, 'utf8')) as PersistedState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log?.warn({ file, err: (err as Error).message }, 'ignoring unreadable witnessing state');
      return;
    }
    if (saved.origin !== this.#o.origin) return;
    for (const w of this.#witnesses) {
      const n = saved.witnesses?.[w.spec.name];
      if (Number.isSafeInteger(n) && n! >= 0) w.known = n!;
    }
    if (typeof saved.published !== 'string') return;
    try {
      const policy = this.config.policy;
      const opened = openNote(saved.published, [...this.#o.logVerifiers, ...policy.verifiers]);
      const cp = parseCheckpoint(opened.text);
      const logSigned = opened.verified.some((s) => this.#o.logVerifiers.some((v) => v.name === s.name && v.keyId === s.keyId));
      if (!logSigned || cp.origin !== this.#o.origin || cp.size > currentSize) return;
      // Rebuild the log-signed note (the log's signatures only) and re-attach the cosignatures.
      const logSigs = opened.verified.filter((s) => policy.witnessFor(s.name, s.keyId) === undefined);
      const t = new Tracked(`${opened.text}\n${logSigs.map(formatSignature).join('')}`, cp.size);
      for (const s of opened.verified) {
        const w = policy.witnessFor(s.name, s.keyId);
        if (w) t.add(w.name, s);
      }
      t.satisfied = policy.satisfiedByNames(new Set(t.cosignatures.keys()));
      if (t.satisfied) {
        this.#published = t;
        this.#o.metrics?.witnessedSize.set(t.size);
      }
    } catch (err) {
      this.#log?.warn({ file, err: (err as Error).message }, 'ignoring the saved witnessed checkpoint');
    }
  }

  /** Saves the state (coalesced: one write at a time, the newest state wins). */
  #persist(): void {
    const file = this.#o.stateFile;
    if (file === undefined) return;
    if (this.#persisting) {
      this.#persistAgain = true;
      return;
    }
    const state: PersistedState = {
      origin: this.#o.origin,
      witnesses: Object.fromEntries(this.#witnesses.map((w) => [w.spec.name, w.known])),
      ...(this.#published ? { published: this.#published.assemble(this.config.policy.witnesses) } : {}),
    };
    // A lost write only costs a 409 round trip or a re-witnessed checkpoint, so no fsync; the
    // rename keeps the file whole.
    this.#persisting = writeFile(`${file}.tmp`, JSON.stringify(state))
      .then(() => rename(`${file}.tmp`, file))
      .catch((err) => this.#log?.warn({ file, err: (err as Error).message }, 'could not save the witnessing state'))
      .finally(() => {
        this.#persisting = undefined;
        if (this.#persistAgain) {
          this.#persistAgain = false;
          this.#persist();
        }
      });
  }
}
