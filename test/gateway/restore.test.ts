// A log restored from yesterday's backup must not sign a second history (docs/fencing.md): the
// gateway SDK sends the last checkpoint it accepted, and a log whose store is behind it refuses to
// sequence, for every producer, naming both sizes. Checked to fail without the SDK's checkpoint
// (the restored log then accepts the event at index 3 and signs another root for size 4).
import { cpSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '@candor/gateway';
import { startTestLog } from '../helpers/log.js';
import { registerProducers } from '../grpc/helpers.js';
import { tempDir } from '../helpers/server.js';
import { freePort } from '../helpers/net.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});


describe('restoring a backup', () => {
  it('a restored log refuses to sequence once a gateway shows it the larger checkpoint it accepted', async () => {
    const dir = tempDir();
    const backup = `${dir}-backup`;
    dirs.push(dir, backup);
    const creds = registerProducers(dir, [{ id: 'gw', tenants: ['org-1'] }, { id: 'other', tenants: ['org-1'] }]);
    const grpc = `127.0.0.1:${await freePort()}`;
    const start = () => startTestLog({ data: dir, grpc });
    let log = await start();
    const keys = log.keys.vkeys;
    const client = (id: 'gw' | 'other') =>
      new GatewayClient({ address: grpc, token: creds[id]!.token, producer: id, tenant: 'org-1', logKey: keys, retry: { initialMs: 20, maxMs: 100, giveUpAfterMs: 600 } });
    const gw = client('gw');
    const beat = () => gw.producerEvents.heartbeat();

    for (let i = 0; i < 3; i++) await beat();
    await log.close();
    cpSync(dir, backup, { recursive: true });

    log = await start();
    for (let i = 0; i < 3; i++) await beat();
    expect(log.service.size).toBe(6);
    await log.close();

    // Yesterday's backup comes back; the gateway still holds the checkpoint of size 6.
    rmSync(dir, { recursive: true, force: true });
    cpSync(backup, dir, { recursive: true });
    log = await start();
    expect(log.service.size).toBe(3);
    await expect(beat()).rejects.toThrow(/published a tree of size 6, but its store holds only size 3/);
    // Not just that gateway: the log signs nothing more for anyone.
    const other = client('other');
    await expect(other.producerEvents.heartbeat()).rejects.toThrow(/does not sequence/);
    expect(log.service.size).toBe(3);
    await gw.close();
    await other.close();
    await log.close();

    // The refusal survives a restart.
    await expect(start()).rejects.toThrow(/refusing to start: a client showed that this log has published a tree of size 6/);
  });
});
