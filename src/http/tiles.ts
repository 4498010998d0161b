/**
 * The c2sp.org/tlog-tiles read API at the root: /checkpoint, /tile/<L>/<N>[.p/<W>] and
 * /tile/entries/<N>[.p/<W>]. Tiles never change once served (a partial tile is a prefix of the
 * full one), so every tile response is cacheable forever. Checkpoints and hash tiles are public
 * (witnesses and monitors need nothing else); entry bundles hold every tenant's events and are
 * served to readers of the whole log only, unless the log is public (EntryAccess).
 * Public responses carry no credentials, so any origin may read them (CORS): the explorer's static
 * build, hosted elsewhere than the log, verifies the log from these (docs/explorer.md).
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ENTRIES, parseTilePath } from '@candor/core/tile';
import type { LogService } from '../log/service.js';
import { bearerCredentials } from '../producers/registry.js';
import { verifiedPeerCertificate } from './tls.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** An answer to an authenticated request: for the reader's own cache, never a shared one (RFC 9111 §5.2.2.7). */
const IMMUTABLE_PRIVATE = 'private, max-age=31536000, immutable';

/** Who may read entries: `check` throws for a request that may not (src/query/access.ts entryReaders). */
export interface EntryAccess {
  public: boolean;
  check(req: FastifyRequest): void;
}

/** EntryAccess over a request's bearer token (and client certificate). */
export function entryAccess(isPublic: boolean, check: (c: ReturnType<typeof bearerCredentials>) => void): EntryAccess {
  return { public: isPublic, check: (req) => check(bearerCredentials(req.headers.authorization, verifiedPeerCertificate(req))) };
}

export const tileRoutes: FastifyPluginAsync<{ service: LogService; entries: EntryAccess }> = async (app, { service, entries }) => {
  app.get('/checkpoint', async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').header('Cache-Control', 'no-cache').header('Access-Control-Allow-Origin', '*').send(service.checkpoint()),
  );

  app.get('/tile/*', async (req, reply) => {
    const ref = parseTilePath(`tile/${(req.params as { '*': string })['*']}`);
    if (ref.level === ENTRIES) entries.check(req);
    const body = await service.tile(ref);
    return reply
      .type('application/octet-stream')
      .header('Cache-Control', ref.level === ENTRIES && !entries.public ? IMMUTABLE_PRIVATE : IMMUTABLE)
      .header('Access-Control-Allow-Origin', '*')
      .send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
};
