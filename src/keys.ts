/**
 * The log's signing keys, in golang.org/x/mod note format, kept as files: <data>/log.key (the
 * signer key, mode 0600, never logged) and <data>/log.vkey (verifier keys, one per line, public).
 * Several key files may be configured at once; each checkpoint then carries one signature per key,
 * which is how a key is rotated without a moment where clients cannot verify.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CandorError } from '@candor/core/errors';
import { generateSignerKey, parseSignerKey, parseVerifierKey, type NoteSigner, type NoteVerifier } from '@candor/core/note';
import { nodeEd25519 } from './crypto/node.js';

export interface LogKeys {
  origin: string;
  signers: NoteSigner[];
  verifiers: NoteVerifier[];
  vkeys: string[];
  /** True when this call created the key (first start). */
  created: boolean;
}

export function defaultKeyFile(dataDir: string): string {
  return join(dataDir, 'log.key');
}

/** A default origin for a log started without one: unique, and a valid key name. */
export function defaultOrigin(): string {
  return `candor.localhost/${randomBytes(4).toString('hex')}`;
}

export function loadLogKeys(opts: { dataDir: string; origin?: string; keyFiles?: readonly string[] }): LogKeys {
  let created = false;
  let files = opts.keyFiles && opts.keyFiles.length > 0 ? [...opts.keyFiles] : [];
  if (files.length === 0) {
    const file = defaultKeyFile(opts.dataDir);
    if (!existsSync(file)) {
      const { skey } = generateSignerKey(opts.origin ?? defaultOrigin(), randomBytes(32));
      mkdirSync(opts.dataDir, { recursive: true });
      writeFileSync(file, `${skey}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
    }
    files = [file];
  }
  const keys = files.map((f) => {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (err) {
      throw new CandorError('invalid_argument', `cannot read key file ${f}: ${(err as Error).message}`);
    }
    try {
      return parseSignerKey(text.trim(), { crypto: nodeEd25519 });
    } catch (err) {
      throw new CandorError('invalid_argument', `key file ${f} does not hold a PRIVATE+KEY signer key: ${(err as Error).message}`);
    }
  });
  const origin = keys[0]!.signer.name;
  for (const k of keys) {
    if (k.signer.name !== origin) throw new CandorError('invalid_argument', `all log keys must be named after one origin; found "${origin}" and "${k.signer.name}"`);
  }
  if (opts.origin !== undefined && opts.origin !== origin) {
    throw new CandorError('invalid_argument', `the log key is for origin "${origin}", but origin "${opts.origin}" was asked for`);
  }
  const vkeys = keys.map((k) => k.vkey);
  writeFileSync(join(opts.dataDir, 'log.vkey'), `${vkeys.join('\n')}\n`);
  return {
    origin,
    signers: keys.map((k) => k.signer),
    verifiers: vkeys.map((v) => parseVerifierKey(v, nodeEd25519)),
    vkeys,
    created,
  };
}
