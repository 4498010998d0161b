// Several addresses for one log (docs/deployment.md, high availability): a call answered
// UNAVAILABLE moves the SDK to the next address, and its retry (same idempotency keys) reaches a
// live node. Real processes: the first address is a port nothing listens on (connection
// refused), the second a real `candor serve --grpc` log.
import { rmSync } from 'node:fs';
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


describe('a gateway given several addresses', () => {
  it('moves past a node that does not answer to one that does, and records each event once', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const creds = registerProducers(dir, [{ id: 'gw', tenants: ['org-1'] }]);
    const live = `127.0.0.1:${await freePort()}`;
    const dead = `127.0.0.1:${await freePort()}`;
    const log = await startTestLog({ data: dir, grpc: live });
    try {
      const retry = { initialMs: 20, maxMs: 100, giveUpAfterMs: 3000 };
      const client = (address: string | string[]) => new GatewayClient({ address, token: creds.gw!.token, producer: 'gw', tenant: 'org-1', logKey: log.keys.vkeys, retry });
      // Alone, the dead address fails (the control: the next step is not luck).
      const alone = client([dead]);
      await expect(alone.producerEvents.heartbeat()).rejects.toMatchObject({ code: 'unavailable' });
      await alone.close();

      const gw = client([dead, live]);
      const receipts = [];
      for (let i = 0; i < 5; i++) receipts.push(await gw.producerEvents.heartbeat());
      expect(receipts.map((r) => r.receipt.index)).toEqual([0, 1, 2, 3, 4]);
      expect(log.service.size).toBe(5);
      await gw.close();
    } finally {
      await log.close();
    }
  });
});
