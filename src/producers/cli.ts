/**
 * `candor producer ...`: register and manage the producers (gateways) that may write events.
 * Every command edits <data>/producers.json atomically; a running log picks the change up within
 * a second. Tokens are printed once and stored only as hashes.
 *
 *   producer add ID --tenant T --type P [--vkey K] [--mtls IDENTITY] [--no-token] [LIMITS]
 *   producer update ID [LIMITS] [--description TEXT]        LIMITS: --rate N --burst N --daily-quota N
 *                                                           (or --default-limits)
 *   producer list [--json] | show ID | remove ID | disable ID | enable ID
 *   producer scopes ID [--tenant T]... [--type P]...      replace the tenants and/or types
 *   producer token add ID | token revoke ID TOKEN-ID
 *   producer key generate ID [--out FILE] [--register]    a new Ed25519 signer key for a gateway
 *   producer key add ID --vkey K | key remove ID KEY-ID
 *   producer mtls add ID IDENTITY | mtls remove ID IDENTITY
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { CandorError } from '@candor/core/errors';
import { existingDataDir } from '../data-dir.js';
import { generateSignerKey, parseVerifierKey } from '@candor/core/note';
import type { ProducerRecord, RegistryDocument } from './registry.js';

// The registry (and the generated protobuf code it uses) is loaded by run(), so that
// `candor --help` does not pay for it.
let registry: typeof import('./registry.js');

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface DataOpt {
  data: string;
}

const dataOption = (c: Command): Command => c.option('--data <dir>', 'the log data directory (env CANDOR_DATA)', process.env.CANDOR_DATA ?? './data');

/** The registry file, in a data directory that must exist (see ../data-dir.ts). */
function file(o: DataOpt): string {
  return join(existingDataDir(o.data), registry.REGISTRY_FILE);
}

function find(doc: RegistryDocument, id: string): ProducerRecord {
  const p = doc.producers.find((x) => x.id === id);
  if (!p) throw new CandorError('not_found', `no producer ${JSON.stringify(id)} (see "candor producer list")`);
  return p;
}

let write = (s: string): void => void process.stdout.write(s);

function out(s: string): void {
  write(s.endsWith('\n') ? s : `${s}\n`);
}

interface LimitOpts {
  rate?: string;
  burst?: string;
  dailyQuota?: string;
  defaultLimits?: boolean;
}

const limitOptions = (c: Command): Command =>
  c
    .option('--rate <events-per-second>', "this producer's rate limit, events per second (0: none), instead of the log's default")
    .option('--burst <events>', 'events it may send at once above the rate (default: one second of events)')
    .option('--daily-quota <events>', 'events it may send per UTC day (0: none), instead of the log\'s default');

/** Applies --rate/--burst/--daily-quota (or --default-limits) to a record. */
function applyLimits(rec: ProducerRecord, o: LimitOpts): void {
  const num = (v: string, flag: string, int: boolean): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (int && !Number.isSafeInteger(n))) {
      throw new CandorError('invalid_argument', `${flag} must be ${int ? 'an integer' : 'a number'} ≥ 0, got ${JSON.stringify(v)}`);
    }
    return n;
  };
  if (o.defaultLimits) {
    if (o.rate !== undefined || o.burst !== undefined || o.dailyQuota !== undefined) throw new CandorError('invalid_argument', '--default-limits replaces --rate, --burst and --daily-quota: give one or the other');
    delete rec.rateLimit;
    delete rec.dailyQuota;
    return;
  }
  if (o.rate !== undefined || o.burst !== undefined) {
    const rate = o.rate !== undefined ? num(o.rate, '--rate', false) : rec.rateLimit?.eventsPerSecond;
    if (rate === undefined) throw new CandorError('invalid_argument', '--burst needs --rate (the producer has no rate limit of its own)');
    const burst = o.burst !== undefined ? num(o.burst, '--burst', true) : Math.max(1, Math.ceil(rate));
    rec.rateLimit = { eventsPerSecond: rate, burst };
  }
  if (o.dailyQuota !== undefined) rec.dailyQuota = num(o.dailyQuota, '--daily-quota', true);
}

function describeLimits(p: ProducerRecord): string {
  const rate = p.rateLimit ? `${p.rateLimit.eventsPerSecond} events/s, burst ${p.rateLimit.burst}` : "the log's default";
  const quota = p.dailyQuota === undefined ? "the log's default" : p.dailyQuota === 0 ? 'none' : `${p.dailyQuota} events/day`;
  return `rate ${rate}; quota ${quota}`;
}

function describe(p: ProducerRecord): string {
  const keyIds = p.keys.map((k) => `${parseVerifierKey(k).keyId.toString(16).padStart(8, '0')}  ${k}`);
  return [
    `producer     ${p.id}${p.disabled ? '  (DISABLED)' : ''}`,
    ...(p.description ? [`description  ${p.description}`] : []),
    `tenants      ${p.tenants.join(', ')}`,
    `event types  ${p.eventTypes.join(', ')}`,
    `tokens       ${p.tokens.length === 0 ? '-' : p.tokens.map((t) => `${t.id} (created ${t.created})`).join(', ')}`,
    `mTLS         ${p.mtls.length === 0 ? '-' : p.mtls.join(', ')}`,
    `keys         ${keyIds.length === 0 ? '- (events are not signed)' : keyIds.join('\n             ')}`,
    `limits       ${describeLimits(p)}`,
    `created      ${p.created}`,
  ].join('\n');
}

let root: Command;

/** Runs an action; a CandorError becomes "candor: <message>" and exit code 1 (through commander). */
function run<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      registry = await import('./registry.js');
      fn(...args);
    } catch (err) {
      if (err instanceof CandorError) {
        // A refused command is not a usage mistake: no help text after the reason.
        root.showHelpAfterError(false);
        root.error(`candor: ${err.message}`, { exitCode: 1, code: `candor.${err.code}` });
      }
      throw err;
    }
  };
}

/** Adds `candor producer ...`; `io.out` receives what the commands print (default stdout). */
export function registerProducerCommands(program: Command, io: { out?: (s: string) => void } = {}): void {
  root = program;
  if (io.out) write = io.out;
  const producer = program.command('producer').description('register and manage producers (gateways) that write audit events');

  limitOptions(dataOption(producer.command('add')))
    .description('register a producer; prints its bearer token once')
    .argument('<id>', 'producer ID, recorded in every leaf it writes (e.g. hoop-gw-eu-1)')
    .option('--tenant <tenant>', 'a tenant it may write for, or "*"; repeatable', collect)
    .option('--type <pattern>', 'an event type it may write ("session.started"), a prefix ("review.*"), or "*"; repeatable', collect)
    .option('--vkey <vkey>', 'an Ed25519 verifier key (note format, named after the producer): its events must then be signed; repeatable', collect)
    .option('--mtls <identity>', 'a client-certificate identity: "CN=<name>" or a SAN such as "URI:spiffe://..." or "DNS:..."; repeatable', collect)
    .option('--no-token', 'do not create a bearer token (mTLS only)')
    .option('--description <text>', 'a note for operators')
    .action(
      run((id: string, o: DataOpt & LimitOpts & { tenant?: string[]; type?: string[]; vkey?: string[]; mtls?: string[]; token: boolean; description?: string }) => {
        const t = o.token ? registry.newToken() : undefined;
        if (!t && !o.mtls) throw new CandorError('invalid_argument', 'no credentials: keep the bearer token or give --mtls');
        registry.updateRegistryFile(file(o), (doc) => {
          if (doc.producers.some((p) => p.id === id)) throw new CandorError('conflict', `producer ${JSON.stringify(id)} already exists`);
          const rec: ProducerRecord = {
            id,
            ...(o.description ? { description: o.description } : {}),
            tenants: o.tenant ?? [],
            eventTypes: o.type ?? [],
            tokens: t ? [t.record] : [],
            mtls: o.mtls ?? [],
            keys: o.vkey ?? [],
            disabled: false,
            created: new Date().toISOString(),
          };
          applyLimits(rec, o);
          doc.producers.push(rec);
        });
        out(`producer ${id} registered in ${file(o)}`);
        if (t) out(`bearer token (shown once; store it in the gateway's secret store):\n${t.token}`);
      }),
    );

  limitOptions(dataOption(producer.command('update')))
    .description("change a producer's rate limit, daily quota or description (a running log applies it within a second)")
    .argument('<id>')
    .option('--default-limits', "drop the producer's own limits: the log's defaults apply")
    .option('--description <text>', 'a note for operators')
    .action(
      run((id: string, o: DataOpt & LimitOpts & { description?: string }) => {
        if (o.rate === undefined && o.burst === undefined && o.dailyQuota === undefined && !o.defaultLimits && o.description === undefined) {
          throw new CandorError('invalid_argument', 'nothing to change: give --rate, --burst, --daily-quota, --default-limits or --description');
        }
        const p = registry.updateRegistryFile(file(o), (doc) => {
          const rec = find(doc, id);
          applyLimits(rec, o);
          if (o.description !== undefined) rec.description = o.description;
          return rec;
        });
        out(describe(p));
      }),
    );

  dataOption(producer.command('list'))
    .description('list producers')
    .option('--json', 'print the registry as JSON (token hashes included, never tokens)')
    .action(
      run((o: DataOpt & { json?: boolean }) => {
        const doc = registry.readRegistryFile(file(o));
        if (o.json) return out(JSON.stringify(doc.producers, null, 2));
        if (doc.producers.length === 0) return out('no producers registered (add one with "candor producer add")');
        out(doc.producers.map(describe).join('\n\n'));
      }),
    );

  dataOption(producer.command('show'))
    .description('show one producer')
    .argument('<id>')
    .action(run((id: string, o: DataOpt) => out(describe(find(registry.readRegistryFile(file(o)), id)))));

  dataOption(producer.command('remove'))
    .description('remove a producer (its leaves stay in the log; it can no longer write)')
    .argument('<id>')
    .action(
      run((id: string, o: DataOpt) => {
        registry.updateRegistryFile(file(o), (doc) => {
          find(doc, id);
          doc.producers = doc.producers.filter((p) => p.id !== id);
        });
        out(`producer ${id} removed`);
      }),
    );

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    dataOption(producer.command(name))
      .description(disabled ? 'refuse a producer\'s writes without removing it' : 'accept a disabled producer\'s writes again')
      .argument('<id>')
      .action(
        run((id: string, o: DataOpt) => {
          registry.updateRegistryFile(file(o), (doc) => {
            find(doc, id).disabled = disabled;
          });
          out(`producer ${id} ${disabled ? 'disabled' : 'enabled'}`);
        }),
      );
  }

  dataOption(producer.command('scopes'))
    .description('replace the tenants and/or event types a producer may write')
    .argument('<id>')
    .option('--tenant <tenant>', 'a tenant, or "*"; repeatable', collect)
    .option('--type <pattern>', 'an event type, "prefix.*" or "*"; repeatable', collect)
    .action(
      run((id: string, o: DataOpt & { tenant?: string[]; type?: string[] }) => {
        if (!o.tenant && !o.type) throw new CandorError('invalid_argument', 'give --tenant and/or --type');
        const p = registry.updateRegistryFile(file(o), (doc) => {
          const rec = find(doc, id);
          if (o.tenant) rec.tenants = o.tenant;
          if (o.type) rec.eventTypes = o.type;
          return rec;
        });
        out(describe(p));
      }),
    );

  const token = producer.command('token').description("manage a producer's bearer tokens");
  dataOption(token.command('add'))
    .description('create another bearer token (to rotate: add, deploy, revoke the old one)')
    .argument('<id>')
    .action(
      run((id: string, o: DataOpt) => {
        const t = registry.newToken();
        registry.updateRegistryFile(file(o), (doc) => {
          find(doc, id).tokens.push(t.record);
        });
        out(`token ${t.record.id} added to ${id} (shown once):\n${t.token}`);
      }),
    );
  dataOption(token.command('revoke'))
    .description('revoke a bearer token by its ID (see "producer show")')
    .argument('<id>')
    .argument('<token-id>')
    .action(
      run((id: string, tokenId: string, o: DataOpt) => {
        const p = registry.updateRegistryFile(file(o), (doc) => {
          const p = find(doc, id);
          if (!p.tokens.some((t) => t.id === tokenId)) throw new CandorError('not_found', `producer ${id} has no token ${tokenId}`);
          p.tokens = p.tokens.filter((t) => t.id !== tokenId);
          return p;
        });
        out(`token ${tokenId} of ${id} revoked`);
        if (p.tokens.length === 0 && p.mtls.length === 0) out(`${id} has no credentials left: it cannot write until you add a token ("producer token add") or an mTLS identity`);
      }),
    );

  const key = producer.command('key').description("manage a producer's Ed25519 signing keys");
  dataOption(key.command('generate'))
    .description('create an Ed25519 signer key for a gateway (note format); --register adds its verifier key')
    .argument('<id>')
    .option('--out <file>', 'write the signer key to this file (mode 0600) instead of printing it')
    .option('--register', 'add the verifier key to the producer (its events must then be signed)')
    .action(
      run((id: string, o: DataOpt & { out?: string; register?: boolean }) => {
        const { skey, vkey } = generateSignerKey(id, randomBytes(32));
        if (o.register) {
          registry.updateRegistryFile(file(o), (doc) => {
            find(doc, id).keys.push(vkey);
          });
        }
        if (o.out) {
          writeFileSync(o.out, `${skey}\n`, { mode: 0o600, flag: 'wx' });
          out(`signer key written to ${o.out}`);
        } else {
          out(skey);
        }
        out(`verifier key: ${vkey}${o.register ? ` (registered for ${id})` : ''}`);
      }),
    );
  dataOption(key.command('add'))
    .description('register a verifier key; the producer must then sign its events')
    .argument('<id>')
    .requiredOption('--vkey <vkey>', 'the verifier key, named after the producer')
    .action(
      run((id: string, o: DataOpt & { vkey: string }) => {
        registry.updateRegistryFile(file(o), (doc) => {
          find(doc, id).keys.push(o.vkey.trim());
        });
        out(`key added to ${id}`);
      }),
    );
  dataOption(key.command('remove'))
    .description('remove a verifier key by its 8-hex-digit key ID')
    .argument('<id>')
    .argument('<key-id>')
    .action(
      run((id: string, keyId: string, o: DataOpt) => {
        registry.updateRegistryFile(file(o), (doc) => {
          const p = find(doc, id);
          const keep = p.keys.filter((k) => parseVerifierKey(k).keyId.toString(16).padStart(8, '0') !== keyId.toLowerCase());
          if (keep.length === p.keys.length) throw new CandorError('not_found', `producer ${id} has no key ${keyId}`);
          p.keys = keep;
        });
        out(`key ${keyId} removed from ${id}`);
      }),
    );

  const mtls = producer.command('mtls').description("manage a producer's client-certificate identities");
  for (const [name, adding] of [
    ['add', true],
    ['remove', false],
  ] as const) {
    dataOption(mtls.command(name))
      .description(adding ? 'accept a client-certificate identity ("CN=...", "URI:...", "DNS:...")' : 'stop accepting an identity')
      .argument('<id>')
      .argument('<identity>')
      .action(
        run((id: string, identity: string, o: DataOpt) => {
          registry.updateRegistryFile(file(o), (doc) => {
            const p = find(doc, id);
            if (adding) p.mtls.push(identity);
            else {
              if (!p.mtls.includes(identity)) throw new CandorError('not_found', `producer ${id} has no identity ${identity}`);
              p.mtls = p.mtls.filter((m) => m !== identity);
            }
          });
          out(`identity ${identity} ${adding ? 'added to' : 'removed from'} ${id}`);
        }),
      );
  }

  producer
    .command('types')
    .description('list the event types a producer can be scoped to')
    .action(async () => out((await import('@candor/schema/types')).EVENT_TYPE_NAMES.join('\n')));
}
