/**
 * First start of a cluster: everything the processes need that the cluster file does not hold,
 * created once in the data directory and kept across restarts.
 *
 *   log/log.key, log/log.vkey        the log's signer key (created as `candor serve` would)
 *   <witness>/witness.key            each witness's key, and the log registered with it
 *   log/producers.json               the demo gateway registered as a producer (token, signing key)
 *   <gateway>/token, producer.key    the gateway's bearer token and signer key (mode 0600)
 *   log/auditors.json, auditor.token a reader of the whole log (read-log) for `candor audit`
 *   log/candor.yaml                  the log's configuration, rewritten at every start
 *
 * Secrets exist only as files; nothing here prints or logs them.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { generateSignerKey } from '@candor/core/note';
import { loadConfig } from '../config.js';
import { loadLogKeys } from '../keys.js';
import { REGISTRY_FILE, newToken, updateRegistryFile } from '../producers/registry.js';
import { AUDITORS_FILE, newAuditorToken, updateAuditorsFile } from '../auditors/registry.js';
import { WitnessStore, initWitnessKey, loadWitnessKeys } from '../witness/store.js';
import { join } from 'node:path';
import { addresses, paths, type Cluster, type Network } from './topology.js';

export interface ClusterKeys {
  logVkey: string;
  witnessVkeys: Map<string, string>;
}

/** Creates what is missing; safe to run at every start (the witnesses must not be running). */
export async function initCluster(c: Cluster, data: string, network: Network): Promise<ClusterKeys> {
  const p = paths(data, c);
  mkdirSync(p.log, { recursive: true, mode: 0o700 });
  const logVkey = loadLogKeys({ dataDir: p.log, origin: c.origin }).vkeys[0]!;

  const witnessVkeys = new Map<string, string>();
  for (const w of c.witnesses) {
    const dir = p.witness(w.name);
    const vkey = existsSync(join(dir, 'witness.key')) ? (await loadWitnessKeys(dir))[0]!.vkey : await initWitnessKey(dir, w.name);
    witnessVkeys.set(w.name, vkey);
    const store = await WitnessStore.open(dir);
    try {
      await store.addLog({ origin: c.origin, vkeys: [logVkey] });
    } finally {
      await store.close();
    }
  }

  if (!existsSync(p.gatewayToken)) {
    mkdirSync(p.gateway, { recursive: true, mode: 0o700 });
    const token = newToken();
    const key = generateSignerKey(c.gateway.producer, randomBytes(32));
    updateRegistryFile(join(p.log, REGISTRY_FILE), (doc) => {
      // A data dir whose token file was lost: the producer gets fresh credentials.
      doc.producers = doc.producers.filter((x) => x.id !== c.gateway.producer);
      doc.producers.push({
        id: c.gateway.producer,
        description: `demo gateway of ${c.file}`,
        tenants: [c.gateway.tenant],
        eventTypes: ['*'],
        tokens: [token.record],
        mtls: [],
        keys: [key.vkey],
        disabled: false,
        created: new Date().toISOString(),
      });
    });
    writeFileSync(p.gatewayKey, `${key.skey}\n`, { mode: 0o600 });
    writeFileSync(p.gatewayToken, `${token.token}\n`, { mode: 0o600 });
  }

  if (!existsSync(p.auditorToken)) {
    // Entries are not public: the demo's auditor reads them with a token of its own.
    const token = newAuditorToken();
    updateAuditorsFile(join(p.log, AUDITORS_FILE), (doc) => {
      doc.auditors = doc.auditors.filter((x) => x.id !== 'demo-auditor');
      doc.auditors.push({ id: 'demo-auditor', description: `full audits of ${c.file}`, tenants: ['*'], permissions: ['read-log'], tokens: [token.record], disabled: false, created: new Date().toISOString() });
    });
    writeFileSync(p.auditorToken, `${token.token}\n`, { mode: 0o600 });
  }

  writeLogConfig(c, data, network, witnessVkeys);
  return { logVkey, witnessVkeys };
}

/** Writes log/candor.yaml for these ports and network, and checks it as `candor serve` will. */
export function writeLogConfig(c: Cluster, data: string, network: Network, witnessVkeys: ReadonlyMap<string, string>): string {
  const p = paths(data, c);
  const a = addresses(network);
  const config = {
    data: p.log,
    http: a.listen('log', c.log.http),
    grpc: a.listen('log', c.log.grpc),
    origin: c.origin,
    keys: [join(p.log, 'log.key')],
    ...c.log.config,
    witnessing: {
      ...c.witnessing,
      witnesses: c.witnesses.map((w) => ({ name: w.name, vkey: witnessVkeys.get(w.name), url: `http://${a.reach(w.name, w.http)}` })),
    },
  };
  const text = `# Written by "candor cluster" from ${c.file} at each start; edit that file instead.\n${stringify(config, { lineWidth: 0 })}`;
  writeFileSync(p.logConfig, text);
  // A bad key of the cluster file's log.config is reported now, before anything starts.
  loadConfig({ file: p.logConfig, env: {} });
  return p.logConfig;
}

/** The gateway's secrets, read from their files. */
export function gatewaySecrets(c: Cluster, data: string): { token: string; signerKey: string; logVkey: string } {
  const p = paths(data, c);
  const read = (f: string) => readFileSync(f, 'utf8').trim();
  return { token: read(p.gatewayToken), signerKey: read(p.gatewayKey), logVkey: read(p.logVkey).split('\n')[0]! };
}
