/**
 * The explorer (docs/explorer.md) at /: the built page and its assets from dist/explorer, read
 * once at start-up, served with a strict Content-Security-Policy. The page shows text written by
 * producers and users next to an auditor token that can disclose and erase, so it may run only
 * its own script and style, connect only to this origin, and never be framed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { CandorError } from '@candor/core/errors';

export const EXPLORER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml' };

/** dist/explorer, from dist/src/http (the built server) or src/http (run from sources). */
function builtDir(): string | undefined {
  for (const rel of ['../../explorer/', '../../dist/explorer/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return undefined;
}

export const explorerRoutes: FastifyPluginAsync = async (app) => {
  const dir = builtDir();
  const assets = new Map<string, Buffer>();
  if (dir && existsSync(`${dir}assets`)) for (const f of readdirSync(`${dir}assets`)) assets.set(f, readFileSync(`${dir}assets/${f}`));
  const index = dir ? readFileSync(`${dir}index.html`) : undefined;

  const send = (reply: FastifyReply, name: string, body: Buffer, cache: string) =>
    reply
      .type(TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream')
      .header('Content-Security-Policy', EXPLORER_CSP)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      .header('Cache-Control', cache)
      .send(body);

  app.get('/', async (_req, reply) => {
    if (!index) throw new CandorError('not_found', 'the explorer is not built here (npm run build builds it into dist/explorer)');
    return send(reply, 'index.html', index, 'no-cache');
  });
  app.get<{ Params: { name: string } }>('/assets/:name', async (req, reply) => {
    const body = assets.get(req.params.name);
    if (!body) throw new CandorError('not_found', `no explorer asset ${JSON.stringify(req.params.name)}`);
    // Asset names carry a hash of their content (vite): they never change.
    return send(reply, req.params.name, body, 'public, max-age=31536000, immutable');
  });
};
