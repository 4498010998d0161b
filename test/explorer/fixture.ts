// A real `candor serve` holding real events written through the gateway SDK, and Debian's
// Chromium driven by playwright-core (never a downloaded browser): shared by the explorer's
// browser tests, its bench and the screenshot script.
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { GatewayClient, depositOpenings, ReviewKind, SessionVerb, VoteDecision, type Recorded } from '../../clients/gateway/index.js';
import { AUDITORS_FILE, newAuditorToken, updateAuditorsFile } from '../../src/auditors/registry.js';
import { generateSignerKey } from '../../src/core/note.js';
import { REGISTRY_FILE, newToken, updateRegistryFile } from '../../src/producers/registry.js';
import { startLog, tempDir, type RunningLog } from '../helpers/server.js';
import { logKey, startWitness } from '../witnessing/helpers.js';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 20_000 });
}

/** Producer- and user-written text meant to run script if a page ever parsed it as HTML. */
export const HOSTILE = {
  actor: 'usr_<img src=x onerror="window.__pwned=1">mallory',
  resource: '<script>window.__pwned=2</script>pg-prod',
  justification: '"><svg onload="window.__pwned=3">',
};

export interface ExplorerLog {
  log: RunningLog;
  auditorToken: string;
  /** An auditor of tenant org-1 that may search, without read-log (it may not read entry bundles). */
  tenantAuditorToken: string;
  /** The witness's cosignature/v1 verifier key. */
  witnessVkey: string;
  recorded: Recorded[];
  /** The signed checkpoint after the first event: a smaller tree than every later one. */
  earlyCheckpoint: string;
  stop(): Promise<void>;
}

/** `publicEntries`: entry bundles to anyone (the default here), or only to auditors with read-log. */
export async function startExplorerLog(opts: { publicEntries?: boolean } = {}): Promise<ExplorerLog> {
  const dir = tempDir('candor-explorer-');
  // A real witness (the witness's own code) that the log asks to cosign each checkpoint.
  const origin = 'explorer.test/log';
  const logSigner = logKey(origin, dir);
  const witness = await startWitness({ name: 'witness.explorer.test', logs: [{ origin, vkeys: [logSigner.vkey] }] });
  const witnessing = { witnesses: [{ name: 'w1', vkey: witness.vkeys[0]!, url: witness.url }], quorum: 1, timeoutMs: 2000, ackTimeoutMs: 5000 };
  const producerToken = newToken();
  const key = generateSignerKey('gw-explorer');
  updateRegistryFile(join(dir, REGISTRY_FILE), (doc) => {
    doc.producers.push({ id: 'gw-explorer', tenants: ['org-1'], eventTypes: ['*'], tokens: [producerToken.record], mtls: [], keys: [key.vkey], disabled: false, created: new Date().toISOString() });
  });
  const auditor = newAuditorToken();
  const tenantAuditor = newAuditorToken();
  updateAuditorsFile(join(dir, AUDITORS_FILE), (doc) => {
    doc.auditors.push({ id: 'aud-explorer', tenants: ['*'], permissions: ['search', 'export', 'disclose', 'read-log'], tokens: [auditor.record], disabled: false, created: new Date().toISOString() });
    doc.auditors.push({ id: 'aud-org-1', tenants: ['org-1'], permissions: ['search'], tokens: [tenantAuditor.record], disabled: false, created: new Date().toISOString() });
  });
  const log = await startLog({ dir, origin, args: ['--grpc', '127.0.0.1:0', '--batch-max-delay-ms', '5', ...(opts.publicEntries === false ? [] : ['--public-entries'])], env: { CANDOR_WITNESSING: JSON.stringify(witnessing) } }).catch(async (err: unknown) => {
    await witness.close();
    throw err;
  });
  const grpc = /gRPC candor\.v1\.LogService on (\S+)/.exec(log.output())?.[1];
  if (!grpc) throw new Error(`no gRPC address in the log's output:\n${log.output()}`);
  const gw = new GatewayClient({ address: grpc, token: producerToken.token, logKey: log.vkey, producer: 'gw-explorer', tenant: 'org-1', signerKey: key.skey });
  const recorded: Recorded[] = [];
  let earlyCheckpoint = '';
  try {
    const alice = { id: 'usr_alice', display: 'alice@example.com' };
    const bob = { id: 'usr_bob', display: 'bob@example.com' };
    const prod = { name: 'pg-prod-eu', type: 'database' };
    const update = 'UPDATE accounts SET plan = 2 WHERE id = 42';
    recorded.push(await gw.review.requested({ actor: alice, resource: prod, reviewId: 'rev-1', kind: ReviewKind.ONE_TIME_COMMAND, statement: update, justification: 'ticket OPS-1' }));
    // The openings of its commitments (justification, statement), for disclosure.
    await depositOpenings({ url: log.url, token: producerToken.token }, recorded[0]!);
    // Cosigned (two signature lines: the log's and the witness's), so that only its size is wrong.
    for (let i = 0; i < 100 && (earlyCheckpoint.match(/^\u2014 /gm) ?? []).length < 2; i++) {
      earlyCheckpoint = await (await fetch(`${log.url}/checkpoint`)).text();
      if ((earlyCheckpoint.match(/^\u2014 /gm) ?? []).length < 2) await new Promise((r) => setTimeout(r, 50));
    }
    const vote = await gw.review.voteCast({ actor: bob, reviewId: 'rev-1', group: 'dba', decision: VoteDecision.APPROVE });
    recorded.push(vote);
    recorded.push(await gw.review.approved({ actor: bob, reviewId: 'rev-1', voteEventIds: [vote.event.eventId] }));
    recorded.push(await gw.review.executionStarted({ actor: alice, reviewId: 'rev-1', executionSessionId: 'ses-1' }));
    recorded.push(await gw.session.started({ actor: alice, source: { ip: '203.0.113.7', origin: 'cli' }, resource: prod, sessionId: 'ses-1', verb: SessionVerb.EXEC, protocol: 'postgres', reviewId: 'rev-1' }));
    recorded.push(await gw.statement.executed({ actor: alice, resource: prod, sessionId: 'ses-1', statement: update, operation: 'UPDATE', tables: ['accounts'], rows: 1, durationMs: 3 }));
    recorded.push(await gw.review.executionCompleted({ actor: alice, reviewId: 'rev-1', executionSessionId: 'ses-1', exitCode: 0, rows: 1 }));
    recorded.push(await gw.session.ended({ actor: alice, resource: prod, sessionId: 'ses-1', exitCode: 0, durationMs: 900 }));
    const mallory = { id: HOSTILE.actor, display: 'mallory' };
    recorded.push(await gw.review.requested({ actor: mallory, resource: { name: HOSTILE.resource, type: 'database' }, reviewId: 'rev-2', kind: ReviewKind.JIT_SESSION, justification: HOSTILE.justification }));
  } catch (err) {
    await log.kill();
    await witness.close();
    throw err;
  } finally {
    await gw.close();
  }
  return {
    log,
    auditorToken: auditor.token,
    tenantAuditorToken: tenantAuditor.token,
    witnessVkey: witness.vkeys[0]!,
    recorded,
    earlyCheckpoint,
    async stop() {
      await log.stop();
      await witness.close();
    },
  };
}

/**
 * Plain static hosting of a directory (what a bucket or CDN does): GET only, no headers beyond
 * the type. The explorer's static build served from here is a different origin from the log.
 */
export async function startStaticServer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dir, path === '/' ? 'index.html' : path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** dist/explorer, as `npm run build` leaves it. */
export const BUILT = fileURLToPath(new URL('../../dist/explorer', import.meta.url));
