// The witness policy (N of M, groups) and the witnessing section of the log's configuration, as
// the operator writes it (YAML file, environment variable), with errors that name the key.
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SIG_COSIGNATURE_V1, generateSignerKey, parseSignerKey } from '@candor/core/note';
import { loadConfig } from '../../src/config.js';
import { parseWitnessingConfig } from '../../src/witnessing/config.js';
import { WitnessPolicy } from '../../src/witnessing/policy.js';
import { tempDir } from '../helpers/server.js';

const key = (name: string) => parseSignerKey(generateSignerKey(name, randomBytes(32)).skey, { type: SIG_COSIGNATURE_V1 }).vkey;
const [k1, k2, k3, k4] = ['a.example/w', 'b.example/w', 'c.example/w', 'd.example/w'].map(key) as [string, string, string, string];
const witnesses = [
  { name: 'a', vkey: k1, url: 'http://127.0.0.1:1' },
  { name: 'b', vkey: k2, url: 'http://127.0.0.1:2' },
  { name: 'c', vkey: k3, url: 'http://127.0.0.1:3/' },
  { name: 'd', vkey: k4, url: 'https://d.example/witness' },
];
const met = (p: WitnessPolicy, ...names: string[]) => p.satisfiedByNames(new Set(names));

describe('witness policy', () => {
  it('k of all witnesses; "all" by default', () => {
    const p = WitnessPolicy.parse({ witnesses, quorum: 2 });
    expect(p.description).toBe('2 of 4 witnesses');
    expect(met(p, 'a')).toBe(false);
    expect(met(p, 'a', 'd')).toBe(true);
    const all = WitnessPolicy.parse({ witnesses });
    expect(all.description).toBe('4 of 4 witnesses');
    expect(met(all, 'a', 'b', 'c')).toBe(false);
    expect(met(all, 'a', 'b', 'c', 'd')).toBe(true);
    expect(met(WitnessPolicy.parse({ witnesses, quorum: 'any' }), 'c')).toBe(true);
  });

  it('groups of witnesses and groups, with any/all/k thresholds', () => {
    const p = WitnessPolicy.parse({
      witnesses,
      groups: [
        { name: 'eu', threshold: 'any', members: ['a', 'b'] },
        { name: 'us', threshold: 'all', members: ['c', 'd'] },
        { name: 'main', threshold: 1, members: ['eu', 'us'] },
        { name: 'strict', threshold: 2, members: ['eu', 'us'] },
      ],
      quorum: 'main',
    });
    expect(p.description).toBe('group main: 1 of [eu: 1 of [a, b], us: 2 of [c, d]]');
    expect(met(p, 'b')).toBe(true);
    expect(met(p, 'c')).toBe(false);
    expect(met(p, 'c', 'd')).toBe(true);
    const strict = WitnessPolicy.parse({ witnesses, groups: [{ name: 'eu', threshold: 'any', members: ['a', 'b'] }, { name: 'us', threshold: 'all', members: ['c', 'd'] }, { name: 'strict', threshold: 2, members: ['eu', 'us'] }], quorum: 'strict' });
    expect(met(strict, 'a', 'c')).toBe(false);
    expect(met(strict, 'a', 'c', 'd')).toBe(true);
    // A single witness as the quorum.
    expect(met(WitnessPolicy.parse({ witnesses, quorum: 'd' }), 'd')).toBe(true);
    // Matching by key: a cosignature counts for the witness whose key made it.
    expect(p.satisfied([p.witnesses[1]!.verifier])).toBe(true);
    expect(p.witnessFor(p.witnesses[2]!.verifier.name, p.witnesses[2]!.verifier.keyId)?.name).toBe('c');
  });

  it('names the key in every error', () => {
    const bad = (v: unknown, msg: RegExp) => expect(() => WitnessPolicy.parse(v, { what: 'config witnessing', requireUrls: true })).toThrow(expect.objectContaining({ code: 'invalid_argument', message: expect.stringMatching(msg) }));
    bad({}, /config witnessing.witnesses must be a non-empty list/);
    bad({ witnesses, quorum: 5 }, /config witnessing.quorum must be "any", "all" or an integer from 1 to 4/);
    bad({ witnesses, quorum: 'nobody' }, /config witnessing.quorum "nobody" is not a witness or group/);
    bad({ witnesses: [{ ...witnesses[0], vkey: 'junk' }] }, /config witnessing.witnesses\[0\].vkey: verifier key/);
    bad({ witnesses: [{ ...witnesses[0], vkey: generateSignerKey('x.example').vkey }] }, /witnesses\[0\].vkey is not a cosignature\/v1 key \(type 0x04\)/);
    bad({ witnesses: [witnesses[0], { ...witnesses[1], name: 'a' }] }, /witnesses\[1\].name "a" is used twice/);
    bad({ witnesses: [witnesses[0], { ...witnesses[1], vkey: k1 }] }, /witnesses\[1\].vkey is the key of another witness/);
    bad({ witnesses: [{ name: 'a', vkey: k1 }] }, /witnesses\[0\].url is required/);
    bad({ witnesses: [{ ...witnesses[0], url: 'ftp://x' }] }, /witnesses\[0\].url must be an http/);
    bad({ witnesses: [{ ...witnesses[0], nmae: 'typo' }] }, /witnesses\[0\].nmae is not a known key/);
    bad({ witnesses, groups: [{ name: 'g', threshold: 1, members: ['zz'] }] }, /groups\[0\].members\[0\] "zz" is not a witness or an earlier group/);
    bad({ witnesses, groups: [{ name: 'g', threshold: 3, members: ['a', 'b'] }] }, /groups\[0\].threshold must be/);
    bad({ witnesses, groups: [{ name: 'a', threshold: 1, members: ['b'] }] }, /groups\[0\].name "a" is already a witness or group/);
    bad({ witnesses, groups: [{ name: 'g', threshold: 1, members: ['a', 'a'] }] }, /lists a name twice/);
    bad({ witnesses, extra: 1 }, /config witnessing.extra is not a known key/);
  });
});

describe('the witnessing section of the log config', () => {
  it('loads from a YAML file with defaults, and trailing slashes off URLs', () => {
    const dir = tempDir();
    const file = join(dir, 'log.yaml');
    writeFileSync(
      file,
      [
        'data: ./data',
        'witnessing:',
        '  publish: after',
        '  ackTimeoutMs: 2500',
        '  witnesses:',
        ...witnesses.map((w) => `    - { name: ${w.name}, vkey: "${w.vkey}", url: "${w.url}" }`),
        '  quorum: 3',
      ].join('\n'),
    );
    const c = loadConfig({ file, env: {} });
    expect(c.witnessing).toMatchObject({ publish: 'after', ackTimeoutMs: 2500, timeoutMs: 5000, retryMs: 1000, maxRetryMs: 30000 });
    expect(c.witnessing!.policy.description).toBe('3 of 4 witnesses');
    expect(c.witnessing!.policy.witnesses.map((w) => w.url)).toEqual(['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3', 'https://d.example/witness']);
    expect(loadConfig({ env: {} }).witnessing).toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads from CANDOR_WITNESSING as JSON, and says where a bad value came from', () => {
    const env = { CANDOR_WITNESSING: JSON.stringify({ witnesses: witnesses.slice(0, 2), quorum: 1 }) };
    expect(loadConfig({ env }).witnessing!.policy.description).toBe('1 of 2 witnesses');
    expect(() => loadConfig({ env: { CANDOR_WITNESSING: JSON.stringify({ witnesses, publish: 'later' }) } })).toThrow(
      /config witnessing.publish must be "before" or "after" \(from environment\)/,
    );
    expect(() => loadConfig({ env: { CANDOR_WITNESSING: '{not json' } })).toThrow(/config witnessing is not valid YAML or JSON/);
    expect(() => parseWitnessingConfig({ witnesses, timeoutMs: 0 })).toThrow(/witnessing.timeoutMs must be an integer of at least 1/);
    expect(() => parseWitnessingConfig({ witnesses, retryMs: 5000, maxRetryMs: 10 })).toThrow(/maxRetryMs must be at least retryMs/);
  });
});
