/**
 * `candor serve` checks that it can listen before it creates anything: on a busy port it used to
 * create a key and a store, then fail with EADDRINUSE, leaving a new log behind. Each configured
 * address (HTTP, gRPC, admin) is bound once and released; port 0 always binds, so it is skipped.
 * (A port taken in the moment between this check and the real listen still fails, later.)
 */
import { createServer } from 'node:net';
import { CandorError } from '@candor/core/errors';
import { parseHostPort, type Config } from '../config.js';

function probe(what: string, address: string): Promise<void> {
  const { host, port } = parseHostPort(address);
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the address is in use' : err.message;
      reject(new CandorError('unavailable', `cannot listen on ${address} (${what}): ${why}; nothing was created or changed`));
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

export async function checkListenAddresses(config: Pick<Config, 'http' | 'grpc' | 'admin'>): Promise<void> {
  await probe('http', config.http);
  if (config.grpc) await probe('grpc', config.grpc);
  if (config.admin) await probe('admin', config.admin);
}
