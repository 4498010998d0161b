/**
 * The c2sp.org/tlog-tiles read API at the root: /checkpoint, /tile/<L>/<N>[.p/<W>] and
 * /tile/entries/<N>[.p/<W>]. Tiles never change once served (a partial tile is a prefix of the
 * full one), so every tile response is cacheable forever. They are public and carry no
 * credentials, so any origin may read them (CORS): the explorer's static build, hosted elsewhere
 * than the log, verifies the log from these alone (docs/explorer.md).
 */
import type { FastifyPluginAsync } from 'fastify';
import { parseTilePath } from '../core/tile.js';
import type { LogService } from '../log/service.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

export const tileRoutes: FastifyPluginAsync<{ service: LogService }> = async (app, { service }) => {
  app.get('/checkpoint', async (_req, reply) =>
    reply.type('text/plain; charset=utf-8').header('Cache-Control', 'no-cache').header('Access-Control-Allow-Origin', '*').send(service.checkpoint()),
  );

  app.get('/tile/*', async (req, reply) => {
    const ref = parseTilePath(`tile/${(req.params as { '*': string })['*']}`);
    const body = await service.tile(ref);
    return reply.type('application/octet-stream').header('Cache-Control', IMMUTABLE).header('Access-Control-Allow-Origin', '*').send(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
};
