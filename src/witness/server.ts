/**
 * The witness's HTTP surface (c2sp.org/tlog-witness), as one encapsulated fastify plugin:
 *   POST <prefix>/add-checkpoint          submission
 *   GET  <prefix>/<origin hash>/checkpoint monitoring
 * A thin adapter: every decision is Witness's.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { TEXT, type Witness, type WitnessResponse } from './witness.js';

/** Checkpoints are a few hundred bytes and proofs at most 63 lines: 64 KiB is generous. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

export interface WitnessPluginOptions {
  witness: Witness;
  bodyLimit?: number;
}

export const witnessPlugin: FastifyPluginAsync<WitnessPluginOptions> = async (app, opts) => {
  // The spec fixes no request media type, so the body is taken as bytes whatever it is labelled;
  // Witness decodes it as strict UTF-8.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'witness request failed');
    return reply
      .code(status)
      .type(TEXT)
      .send(status === 500 ? 'internal error\n' : `${err.message}\n`);
  });

  const send = (reply: FastifyReply, r: WitnessResponse) => reply.code(r.status).type(r.contentType).send(r.body);

  app.post('/add-checkpoint', async (req, reply) => {
    const body = req.body instanceof Uint8Array ? req.body : new Uint8Array(0);
    return send(reply, await opts.witness.addCheckpoint(body));
  });

  app.get<{ Params: { hash: string } }>(
    '/:hash/checkpoint',
    {
      schema: {
        params: {
          type: 'object',
          properties: { hash: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          required: ['hash'],
        },
      },
    },
    async (req, reply) => {
      reply.header('cache-control', 'no-cache');
      return send(reply, await opts.witness.latestCheckpoint(req.params.hash));
    },
  );
};

/** A fastify server with just the witness routes at the root, as `witness serve` runs it. */
export async function createWitnessServer(opts: WitnessPluginOptions & { logger?: Logger }): Promise<FastifyInstance> {
  // No per-request lines at info: `witness serve` logs each request at debug itself.
  const app = Fastify({ logController: new LogController({ disableRequestLogging: true }), ...(opts.logger === undefined ? { logger: false } : { loggerInstance: opts.logger }) }) as unknown as FastifyInstance;
  await app.register(witnessPlugin, { witness: opts.witness, ...(opts.bodyLimit === undefined ? {} : { bodyLimit: opts.bodyLimit }) });
  return app;
}
