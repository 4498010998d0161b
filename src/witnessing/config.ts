/**
 * The `witnessing` section of the log's configuration: the witness policy (policy.ts) plus how the
 * log talks to witnesses and when it publishes.
 *
 *   witnessing:
 *     publish: after          # "before" (default): /checkpoint serves each checkpoint at once,
 *                             #   with the cosignatures collected so far;
 *                             # "after": only checkpoints that meet the policy are served
 *     timeoutMs: 5000         # bound on each add-checkpoint request
 *     ackTimeoutMs: 10000     # how long a witnessed acknowledgement waits for the policy
 *     retryMs: 1000           # first backoff after a failed request (doubles, up to maxRetryMs)
 *     maxRetryMs: 30000
 *     witnesses: [...]        # see policy.ts
 *     groups: [...]
 *     quorum: ...
 */
import { parse as parseYaml } from 'yaml';
import { CandorError, invalid } from '@candor/core/errors';
import { nodeEd25519 } from '../crypto/node.js';
import { WitnessPolicy, checkKeys } from './policy.js';

export type PublishMode = 'before' | 'after';

export interface WitnessingConfig {
  policy: WitnessPolicy;
  publish: PublishMode;
  timeoutMs: number;
  ackTimeoutMs: number;
  retryMs: number;
  maxRetryMs: number;
}

export const WITNESSING_DEFAULTS = {
  publish: 'before' as PublishMode,
  timeoutMs: 5_000,
  ackTimeoutMs: 10_000,
  retryMs: 1_000,
  maxRetryMs: 30_000,
};

const SETTINGS = ['publish', 'timeoutMs', 'ackTimeoutMs', 'retryMs', 'maxRetryMs'] as const;

/**
 * Validates the section; errors name the key ("config witnessing.witnesses[1].vkey: ...") and,
 * when given, where the value came from. A string (from an environment variable) is parsed as
 * YAML, which includes JSON.
 */
export function parseWitnessingConfig(value: unknown, what = 'witnessing', source?: string): WitnessingConfig {
  try {
    return parse(value, what);
  } catch (err) {
    if (source !== undefined && err instanceof CandorError) throw new CandorError(err.code, `${err.message} (from ${source})`);
    throw err;
  }
}

function parse(value: unknown, what: string): WitnessingConfig {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = parseYaml(v);
    } catch (err) {
      throw invalid(`${what} is not valid YAML or JSON: ${(err as Error).message}`);
    }
  }
  const section = checkKeys(v, what, ['witnesses', 'groups', 'quorum', ...SETTINGS]);
  const policy = WitnessPolicy.parse(section, { what, requireUrls: true, extraKeys: SETTINGS, crypto: nodeEd25519 });
  const publish = section.publish ?? WITNESSING_DEFAULTS.publish;
  if (publish !== 'before' && publish !== 'after') throw invalid(`${what}.publish must be "before" or "after"`);
  const ms = (key: (typeof SETTINGS)[number], min: number): number => {
    const raw = section[key] ?? WITNESSING_DEFAULTS[key as keyof typeof WITNESSING_DEFAULTS];
    const n = typeof raw === 'string' && /^[0-9]+$/.test(raw) ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) throw invalid(`${what}.${key} must be an integer of at least ${min} (milliseconds)`);
    return n;
  };
  const cfg: WitnessingConfig = {
    policy,
    publish,
    timeoutMs: ms('timeoutMs', 1),
    ackTimeoutMs: ms('ackTimeoutMs', 1),
    retryMs: ms('retryMs', 1),
    maxRetryMs: ms('maxRetryMs', 1),
  };
  if (cfg.maxRetryMs < cfg.retryMs) throw invalid(`${what}.maxRetryMs must be at least retryMs`);
  return cfg;
}
