/**
 * Listening without fastify's "Server listening at" line: fastify logs it at info, as JSON, and
 * it would precede (or race) the human banner the CLI prints once the port is bound. The banner
 * says the same, with the port chosen when the address asked for port 0.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** Binds app's server to host:port after app.ready(); resolves with the bound port. */
export async function listenQuietly(app: FastifyInstance, host: string, port: number): Promise<number> {
  await app.ready();
  await new Promise<void>((resolve, reject) => {
    app.server.once('error', reject);
    app.server.listen({ host, port }, () => {
      app.server.off('error', reject);
      resolve();
    });
  });
  return (app.server.address() as AddressInfo).port;
}
