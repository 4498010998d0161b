// `candor producer ...` run in-process against a data dir, driving a running log: a token
// printed by `add` works at once, and `token revoke` takes effect without a restart.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { status } from '@grpc/grpc-js';
import type { CandorError } from '@candor/core/errors';
import { parseSignerKey } from '@candor/core/note';
import { portableHasher } from '@candor/core/hash';
import { signEventBatch } from '@candor/schema/signature';
import { SubmitBatchRequestSchema, SubmitBatchResponseSchema } from '@candor/schema/gen/candor/v1/log_service_pb';
import { registerProducerCommands } from '../../src/producers/cli.js';
import { REGISTRY_FILE, readRegistryFile, type ProducerRegistry } from '../../src/producers/registry.js';
import { RawClient, encoded, sampleEvent } from '../grpc/helpers.js';
import { startTestLog } from '../helpers/log.js';
import { tempDir } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `candor producer <args...>`; returns what it printed, or throws its error. */
async function candor(...args: string[]): Promise<string> {
  let printed = '';
  const program = new Command('candor').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: (s) => (printed += s) });
  registerProducerCommands(program, { out: (s) => (printed += s) });
  await program.parseAsync(['producer', ...args, ...(args[0] === 'types' ? [] : ['--data', dir])], { from: 'user' });
  return printed;
}

/** Waits (bounded) until the running log's registry refuses `token` with the error `code`. */
async function refused(log: { producers: ProducerRegistry }, token: string, code: string): Promise<void> {
  await waitFor(`the log to re-read producers.json and answer ${code}`, () => {
    try {
      log.producers.authenticate({ token });
      return false;
    } catch (err) {
      return (err as CandorError).code === code;
    }
  });
}

async function fails(args: string[], message: RegExp) {
  const err = await candor(...args).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(CommanderError);
  expect((err as CommanderError).exitCode).toBe(1);
  expect((err as CommanderError).message).toMatch(message);
}

describe('candor producer', () => {
  let token = '';
  let skey = '';

  it('adds a producer and prints its token once', async () => {
    const out = await candor('add', 'gw-1', '--tenant', 'org-1', '--type', 'session.*', '--description', 'hoop eu-1');
    token = /^(candor_pt_\S+)$/m.exec(out)![1]!;
    const stored = readFileSync(join(dir, REGISTRY_FILE), 'utf8');
    expect(stored).not.toContain(token);
    expect(readRegistryFile(join(dir, REGISTRY_FILE)).producers[0]).toMatchObject({ id: 'gw-1', tenants: ['org-1'], eventTypes: ['session.*'], description: 'hoop eu-1' });
  });

  it('generates and registers a signing key', async () => {
    const out = await candor('key', 'generate', 'gw-1', '--register');
    skey = /^(PRIVATE\+KEY\+gw-1\+\S+)$/m.exec(out)![1]!;
    expect(out).toMatch(/verifier key: gw-1\+[0-9a-f]{8}\+\S+ \(registered for gw-1\)/);
    expect(await candor('show', 'gw-1')).toMatch(/keys\s+[0-9a-f]{8}\s+gw-1\+/);
  });

  it('refuses a data dir that does not exist (only serve and init create one)', async () => {
    const fresh = join(tempDir(), 'not-yet');
    const program = new Command('candor').exitOverride().configureOutput({ writeErr: () => undefined });
    registerProducerCommands(program, { out: () => undefined });
    const err = await program.parseAsync(['producer', 'add', 'gw-early', '--tenant', 'o', '--type', '*', '--data', fresh], { from: 'user' }).catch((e: unknown) => e);
    expect((err as CommanderError).message).toMatch(/no log data directory .*not-yet: create it with "candor init/);
    expect(existsSync(fresh)).toBe(false);
  });

  it('refuses bad commands with a one-line reason and exit code 1', async () => {
    await fails(['add', 'gw-1', '--tenant', 'org-1', '--type', '*'], /candor: producer "gw-1" already exists/);
    await fails(['add', 'gw-2', '--tenant', 'org-1', '--type', 'session.exploded'], /not a known type/);
    await fails(['add', 'gw-2', '--type', '*'], /no tenants/);
    await fails(['add', 'gw-2', '--tenant', 'o', '--type', '*', '--no-token'], /no credentials: keep the bearer token or give --mtls/);
    await fails(['token', 'revoke', 'gw-1', 'ffffffff'], /has no token ffffffff/);
    await fails(['show', 'nobody'], /no producer "nobody"/);
    expect(readRegistryFile(join(dir, REGISTRY_FILE)).producers.map((p) => p.id)).toEqual(['gw-1']);
  });

  it('drives a running log: new credentials work at once, revocation within a second', async () => {
    const log = await startTestLog({ data: dir, grpc: '127.0.0.1:0' });
    const client = new RawClient(log.grpc!.address, token);
    try {
      const events = [encoded(sampleEvent())];
      const signature = signEventBatch(parseSignerKey(skey).signer, events, portableHasher);
      const ok = await client.call('SubmitBatch', SubmitBatchRequestSchema, SubmitBatchResponseSchema, { events, signature });
      expect(ok.producer).toBe('gw-1');

      const list = JSON.parse(await candor('list', '--json')) as { tokens: { id: string }[] }[];
      expect(await candor('token', 'revoke', 'gw-1', list[0]!.tokens[0]!.id)).toMatch(/no credentials left/);
      // The log re-reads producers.json every second; a loaded machine may take longer.
      await refused(log, token, 'unauthenticated');
      const err = await client.fail('SubmitBatch', SubmitBatchRequestSchema, { events: [encoded(sampleEvent())], signature });
      expect(err.code).toBe(status.UNAUTHENTICATED);

      const out = await candor('token', 'add', 'gw-1');
      client.token = /^(candor_pt_\S+)$/m.exec(out)![1]!;
      await candor('disable', 'gw-1');
      await refused(log, client.token, 'permission_denied');
      expect((await client.fail('SubmitBatch', SubmitBatchRequestSchema, { events })).code).toBe(status.PERMISSION_DENIED);
    } finally {
      client.close();
      await log.close();
    }
  }, 20_000);

  it('sets rate limits and quotas with add and update', async () => {
    await candor('add', 'gw-lim', '--tenant', 'o', '--type', '*', '--rate', '50', '--burst', '200', '--daily-quota', '1000000');
    const rec = () => readRegistryFile(join(dir, REGISTRY_FILE)).producers.find((p) => p.id === 'gw-lim')!;
    expect(rec()).toMatchObject({ rateLimit: { eventsPerSecond: 50, burst: 200 }, dailyQuota: 1_000_000 });
    expect(await candor('update', 'gw-lim', '--rate', '0.5')).toMatch(/limits\s+rate 0.5 events\/s, burst 1; quota 1000000 events\/day/);
    await candor('update', 'gw-lim', '--burst', '10', '--daily-quota', '0');
    expect(rec()).toMatchObject({ rateLimit: { eventsPerSecond: 0.5, burst: 10 }, dailyQuota: 0 });
    expect(await candor('update', 'gw-lim', '--default-limits')).toMatch(/limits\s+rate the log's default; quota the log's default/);
    expect(rec().rateLimit).toBeUndefined();
    await fails(['update', 'gw-lim', '--burst', '5'], /--burst needs --rate/);
    await fails(['update', 'gw-lim', '--rate', 'fast'], /--rate must be a number ≥ 0, got "fast"/);
    await fails(['update', 'gw-lim', '--daily-quota', '1.5'], /--daily-quota must be an integer ≥ 0/);
    await fails(['update', 'gw-lim'], /nothing to change/);
    await candor('remove', 'gw-lim');
  });

  it('manages scopes, identities and keys', async () => {
    await candor('enable', 'gw-1');
    expect(await candor('scopes', 'gw-1', '--type', '*')).toMatch(/event types\s+\*/);
    await candor('mtls', 'add', 'gw-1', 'URI:spiffe://example.org/gw-1');
    expect(await candor('show', 'gw-1')).toMatch(/mTLS\s+URI:spiffe:\/\/example\.org\/gw-1/);
    await candor('mtls', 'remove', 'gw-1', 'URI:spiffe://example.org/gw-1');
    const keyId = /keys\s+([0-9a-f]{8})/.exec(await candor('show', 'gw-1'))![1]!;
    await candor('key', 'remove', 'gw-1', keyId);
    expect(await candor('show', 'gw-1')).toMatch(/events are not signed/);
    expect(await candor('types')).toContain('data.column.changed');
    await candor('remove', 'gw-1');
    expect(await candor('list')).toMatch(/no producers registered/);
  });
});
