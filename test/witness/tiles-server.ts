// A test double of a c2sp.org/tlog-tiles log: serves /checkpoint and /tile/<L>/<N>[.p/<W>] on
// 127.0.0.1 from a TestLog in memory, with knobs to misbehave. Not product code.
import Fastify from 'fastify';
import { concat } from '@candor/core/bytes';
import { ENTRIES, TILE_HEIGHT, TILE_WIDTH, parseTilePath, tileExists, type TileRef } from '@candor/core/tile';
import type { TestLog } from './helpers.js';

export interface TilesServer {
  url: string;
  /** Paths requested so far (without the leading slash). */
  requests: string[];
  /** The size whose checkpoint is served; tiles are served for the whole current tree. */
  published: number;
  /** Served instead of the log's own checkpoint, when set. */
  checkpoint?: string;
  /** Flip a bit in the tile with this path. */
  corrupt?: string;
  /** Answer 404 for a partial tile whose full tile exists in the log (tlog-tiles allows it). */
  prunePartials?: boolean;
  /** Wait this long before answering anything. */
  delayMs?: number;
  /** Called before a tile is served; may await. */
  onTile?: (t: TileRef) => Promise<void>;
  close(): Promise<void>;
}

export async function startTilesServer(log: TestLog, published = log.size): Promise<TilesServer> {
  const app = Fastify({ forceCloseConnections: true });
  const state = { requests: [] as string[], published } as TilesServer;
  const pause = async () => {
    if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
  };

  app.get('/checkpoint', async (_req, reply) => {
    state.requests.push('checkpoint');
    await pause();
    return reply.type('text/plain; charset=utf-8').send(state.checkpoint ?? log.checkpoint(state.published));
  });

  app.get('/tile/*', async (req, reply) => {
    const path = `tile/${(req.params as { '*': string })['*']}`;
    state.requests.push(path);
    await pause();
    let t: TileRef;
    try {
      t = parseTilePath(path);
    } catch {
      return reply.code(400).send('bad tile path\n');
    }
    if (t.level === ENTRIES || !tileExists(t, log.size)) return reply.code(404).send('not found\n');
    if (state.prunePartials && t.width < TILE_WIDTH && tileExists({ ...t, width: TILE_WIDTH }, log.size)) {
      return reply.code(404).send('pruned\n');
    }
    await state.onTile?.(t);
    const hashes = Array.from({ length: t.width }, (_, i) => log.node(t.level * TILE_HEIGHT, t.index * TILE_WIDTH + i));
    const body = concat(...hashes);
    if (state.corrupt === path) body[body.length - 1]! ^= 1;
    return reply.type('application/octet-stream').send(Buffer.from(body));
  });

  state.url = await app.listen({ host: '127.0.0.1', port: 0 });
  state.close = () => app.close();
  return state;
}
