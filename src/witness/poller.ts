/**
 * Polling mode, for logs that do not push to the witness: read the log's checkpoint and tiles
 * (c2sp.org/tlog-tiles), build the consistency proof from the witness's cosigned size to the new
 * checkpoint, and submit both through Witness.addCheckpoint, the same path an HTTP push takes.
 * The tiles are not trusted: a wrong tile yields a proof that addCheckpoint rejects.
 */
import type { Logger } from 'pino';
import { equal, toBase64 } from '@candor/core/bytes';
import { openCheckpoint, parseCheckpoint } from '@candor/core/checkpoint';
import { CandorError } from '@candor/core/errors';
import { portableHasher, type Hasher } from '@candor/core/hash';
import { consistencyProofRanges } from '@candor/core/merkle';
import { parseNote, parseVerifierKey } from '@candor/core/note';
import { DEFAULT_TIMEOUT_MS, TileClient, proofFromTiles } from '../../clients/tiles/client.js';
import type { Witness, WitnessResponse } from './witness.js';

export const DEFAULT_FETCH_TIMEOUT_MS = DEFAULT_TIMEOUT_MS;
/** A 409 means a push moved the state between our read and our submission; retry that often. */
const MAX_CONFLICTS = 3;

export interface PollOptions {
  witness: Witness;
  /** The log's tlog-tiles prefix, e.g. https://log.example.com/tevere. */
  url: string;
  /** Bound on each HTTP request, body included. */
  timeoutMs?: number;
  hasher?: Hasher;
}

export type PollOutcome =
  | { kind: 'unchanged'; origin: string; size: number }
  | { kind: 'submitted'; origin: string; size: number; oldSize: number; response: WitnessResponse };

/** One poll: fetch, verify, prove, submit. Throws on network, signature or configuration errors. */
export async function pollOnce(opts: PollOptions): Promise<PollOutcome> {
  const hasher = opts.hasher ?? portableHasher;
  const client = new TileClient(opts.url, { timeoutMs: opts.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS });
  const note = await client.checkpoint();
  const { origin } = parseCheckpoint(parseNote(note).text);
  const config = await opts.witness.store.getLog(origin);
  if (config === undefined) throw new CandorError('not_found', `${client.url} serves origin ${JSON.stringify(origin)}, which this witness does not witness`);
  // Verified here too, so that an unsigned checkpoint costs no tile fetches.
  const { checkpoint } = openCheckpoint(note, config.vkeys.map((k) => parseVerifierKey(k)), origin);

  for (let attempt = 0; ; attempt++) {
    const state = await opts.witness.store.getState(origin);
    if (state.size === checkpoint.size && equal(state.root, checkpoint.root)) {
      return { kind: 'unchanged', origin, size: checkpoint.size };
    }
    // A smaller or equal size goes in as is, so the witness itself answers (400 or 422) and logs.
    // Otherwise the witness proves consistency itself, from the tiles of the new size.
    const proof =
      state.size > 0 && state.size < checkpoint.size
        ? await proofFromTiles(hasher, consistencyProofRanges(state.size, checkpoint.size), checkpoint.size, client)
        : [];
    const body = `old ${state.size}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
    const response = await opts.witness.addCheckpoint(body);
    if (response.status !== 409 || attempt + 1 >= MAX_CONFLICTS) {
      return { kind: 'submitted', origin, size: checkpoint.size, oldSize: state.size, response };
    }
  }
}

export interface Poller {
  /** Stops polling and waits for a poll in progress. */
  stop(): Promise<void>;
}

/** Polls `url` every `intervalMs` (the first poll at once) until stopped; outcomes are logged. */
export function startPoller(opts: PollOptions & { intervalMs: number; logger?: Logger }): Poller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const log = opts.logger;
  const tick = async () => {
    try {
      const out = await pollOnce(opts);
      if (out.kind === 'unchanged') log?.debug({ url: opts.url, origin: out.origin, size: out.size }, 'log checkpoint unchanged');
      else if (out.response.status === 200) log?.info({ url: opts.url, origin: out.origin, size: out.size }, 'cosigned polled checkpoint');
      else {
        log?.warn(
          { url: opts.url, origin: out.origin, size: out.size, oldSize: out.oldSize, status: out.response.status, reason: out.response.body.trim() },
          'witness refused polled checkpoint',
        );
      }
    } catch (err) {
      log?.warn({ url: opts.url, err: (err as Error).message }, 'poll failed');
    }
  };
  const loop = () => {
    if (stopped) return;
    running = tick().then(() => {
      if (!stopped) timer = setTimeout(loop, opts.intervalMs);
    });
  };
  loop();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
