/**
 * A witness policy: which witnesses a checkpoint needs cosignatures from before it counts as
 * witnessed. Witnesses are named and carry a cosignature/v1 verifier key (type 0x04,
 * c2sp.org/tlog-cosignature) and, for the log, the submission prefix of their c2sp.org/tlog-witness
 * API. Groups combine witnesses and earlier groups with a threshold ("k of these"), as in Sigsum
 * and torchwood policies; the quorum is one witness or group, or simply "k of all witnesses".
 *
 *   witnesses:
 *     - { name: w1, vkey: "witness1.example+1a2b3c4d+BE...", url: "https://witness1.example" }
 *     - { name: w2, vkey: "...", url: "..." }
 *     - { name: w3, vkey: "...", url: "..." }
 *   groups:
 *     - { name: eu, threshold: any, members: [w1, w2] }
 *     - { name: main, threshold: 2, members: [eu, w3] }
 *   quorum: main        # a witness or group name, an integer k (k of all witnesses), or "all"
 *
 * Pure and portable (no Node built-ins): the log, the auditor and proof verification share it.
 */
import { CandorError, invalid } from '@candor/core/errors';
import { SIG_COSIGNATURE_V1, parseVerifierKey, type Ed25519, type NoteVerifier } from '@candor/core/note';
import type { CosignaturePolicy } from '@candor/core/tlog-proof';

export interface PolicyWitness {
  name: string;
  vkey: string;
  verifier: NoteVerifier;
  /** tlog-witness submission prefix; the log posts <url>/add-checkpoint. */
  url?: string;
}

type Node = { kind: 'witness'; name: string } | { kind: 'group'; name: string; threshold: number; members: Node[] };

const POLICY_KEYS = ['witnesses', 'groups', 'quorum'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Throws unless `v` is a mapping whose keys are all in `allowed`. */
export function checkKeys(v: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (!isRecord(v)) throw invalid(`${what} must be a mapping`);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw invalid(`${what}.${k} is not a known key (known: ${allowed.join(', ')})`);
  }
  return v;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:]*$/;

export class WitnessPolicy implements CosignaturePolicy {
  readonly witnesses: readonly PolicyWitness[];
  readonly verifiers: readonly NoteVerifier[];
  readonly description: string;
  readonly #root: Node;

  private constructor(witnesses: PolicyWitness[], root: Node, description: string) {
    this.witnesses = witnesses;
    this.verifiers = witnesses.map((w) => w.verifier);
    this.#root = root;
    this.description = description;
  }

  /** k of the given witnesses (default all), with no groups. */
  static quorum(witnesses: Array<{ name?: string; vkey: string; url?: string }>, k?: number | 'all'): WitnessPolicy {
    return WitnessPolicy.parse({ witnesses, ...(k === undefined ? {} : { quorum: k }) });
  }

  /**
   * Parses a policy mapping (see the module comment). `what` prefixes error messages, so they name
   * the configuration key (e.g. "config witnessing.witnesses[1].vkey"). Keys in `extraKeys` are
   * tolerated and ignored (the log's witnessing section carries its own settings beside these).
   */
  static parse(
    value: unknown,
    opts: { what?: string; requireUrls?: boolean; extraKeys?: readonly string[]; crypto?: Ed25519 } = {},
  ): WitnessPolicy {
    const what = opts.what ?? 'witness policy';
    const v = checkKeys(value, what, [...POLICY_KEYS, ...(opts.extraKeys ?? [])]);
    if (!Array.isArray(v.witnesses) || v.witnesses.length === 0) throw invalid(`${what}.witnesses must be a non-empty list`);
    const byName = new Map<string, Node>();
    const keyIds = new Set<string>();
    const witnesses: PolicyWitness[] = v.witnesses.map((raw, i) => {
      const at = `${what}.witnesses[${i}]`;
      const w = typeof raw === 'string' ? { vkey: raw } : checkKeys(raw, at, ['name', 'vkey', 'url']);
      if (typeof w.vkey !== 'string') throw invalid(`${at}.vkey must be a cosignature/v1 verifier key string`);
      let verifier: NoteVerifier;
      try {
        verifier = parseVerifierKey(w.vkey, opts.crypto);
      } catch (err) {
        throw invalid(`${at}.vkey: ${(err as Error).message}`);
      }
      if (verifier.type !== SIG_COSIGNATURE_V1) throw invalid(`${at}.vkey is not a cosignature/v1 key (type 0x04); witnesses cosign with cosignature/v1`);
      const name = w.name ?? verifier.name;
      if (typeof name !== 'string' || !NAME.test(name)) throw invalid(`${at}.name must be a name of letters, digits and . _ - / :`);
      if (byName.has(name)) throw invalid(`${at}.name ${JSON.stringify(name)} is used twice`);
      const id = `${verifier.name}+${verifier.keyId}`;
      if (keyIds.has(id)) throw invalid(`${at}.vkey is the key of another witness`);
      keyIds.add(id);
      byName.set(name, { kind: 'witness', name });
      let url: string | undefined;
      if (w.url !== undefined) {
        if (typeof w.url !== 'string' || !/^https?:\/\/[^\s]+$/.test(w.url)) throw invalid(`${at}.url must be an http:// or https:// URL`);
        url = w.url.replace(/\/+$/, '');
      } else if (opts.requireUrls) {
        throw invalid(`${at}.url is required: the log submits checkpoints to <url>/add-checkpoint`);
      }
      return { name, vkey: w.vkey.trim(), verifier, ...(url === undefined ? {} : { url }) };
    });

    if (v.groups !== undefined && !Array.isArray(v.groups)) throw invalid(`${what}.groups must be a list`);
    for (const [i, raw] of ((v.groups as unknown[] | undefined) ?? []).entries()) {
      const at = `${what}.groups[${i}]`;
      const g = checkKeys(raw, at, ['name', 'threshold', 'members']);
      if (typeof g.name !== 'string' || !NAME.test(g.name)) throw invalid(`${at}.name must be a name of letters, digits and . _ - / :`);
      if (byName.has(g.name)) throw invalid(`${at}.name ${JSON.stringify(g.name)} is already a witness or group`);
      if (!Array.isArray(g.members) || g.members.length === 0) throw invalid(`${at}.members must be a non-empty list of names`);
      // Members must be defined above, which also rules out cycles.
      const members = g.members.map((m, j) => {
        const node = typeof m === 'string' ? byName.get(m) : undefined;
        if (node === undefined) throw invalid(`${at}.members[${j}] ${JSON.stringify(m)} is not a witness or an earlier group`);
        return node;
      });
      if (new Set(members).size !== members.length) throw invalid(`${at}.members lists a name twice`);
      const threshold = parseThreshold(g.threshold, members.length, `${at}.threshold`);
      byName.set(g.name, { kind: 'group', name: g.name, threshold, members });
    }

    let root: Node;
    let description: string;
    const all = [...witnesses.map((w) => byName.get(w.name)!)];
    if (v.quorum === undefined || typeof v.quorum === 'number' || v.quorum === 'all' || v.quorum === 'any') {
      const k = parseThreshold(v.quorum ?? 'all', all.length, `${what}.quorum`);
      root = { kind: 'group', name: '(quorum)', threshold: k, members: all };
      description = `${k} of ${all.length} witness${all.length === 1 ? '' : 'es'}`;
    } else if (typeof v.quorum === 'string') {
      const node = byName.get(v.quorum);
      if (node === undefined) throw invalid(`${what}.quorum ${JSON.stringify(v.quorum)} is not a witness or group`);
      root = node;
      description = node.kind === 'witness' ? `witness ${node.name}` : `group ${node.name}: ${describe(node)}`;
    } else {
      throw invalid(`${what}.quorum must be a witness or group name, an integer, "any" or "all"`);
    }
    return new WitnessPolicy(witnesses, root, description);
  }

  /** Whether cosignatures by these witnesses (by name) meet the policy. */
  satisfiedByNames(names: ReadonlySet<string>): boolean {
    const met = (n: Node): boolean => {
      if (n.kind === 'witness') return names.has(n.name);
      let count = 0;
      for (const m of n.members) if (met(m) && ++count >= n.threshold) return true;
      return count >= n.threshold;
    };
    return met(this.#root);
  }

  /** Whether cosignatures by these keys meet the policy (CosignaturePolicy). */
  satisfied(cosigners: readonly NoteVerifier[]): boolean {
    const names = new Set<string>();
    for (const c of cosigners) {
      const w = this.witnesses.find((x) => x.verifier.name === c.name && x.verifier.keyId === c.keyId);
      if (w) names.add(w.name);
    }
    return this.satisfiedByNames(names);
  }

  /** The witness whose key made a signature line with this key name and ID, if any. */
  witnessFor(keyName: string, keyId: number): PolicyWitness | undefined {
    return this.witnesses.find((w) => w.verifier.name === keyName && w.verifier.keyId === keyId);
  }
}

function parseThreshold(v: unknown, members: number, what: string): number {
  if (v === 'all') return members;
  if (v === 'any') return Math.min(1, members);
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= members) return v;
  throw new CandorError('invalid_argument', `${what} must be "any", "all" or an integer from 1 to ${members}`);
}

/** "2 of [eu: 1 of [a, b], c]". */
function describe(n: Node): string {
  if (n.kind === 'witness') return n.name;
  return `${n.threshold} of [${n.members.map((m) => (m.kind === 'witness' ? m.name : `${m.name}: ${describe(m)}`)).join(', ')}]`;
}
