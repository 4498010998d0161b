/**
 * Admin routes: operations that change or reveal more than a producer or a reader may (the
 * producer registry with its limits, erasure). Where they are served (docs/security.md §Admin):
 *
 *  - with an `admin` listener configured (a separate HOST:PORT, loopback recommended), every admin
 *    route group is served there and only there, and so are /metrics and /healthz;
 *  - without one, only the groups that authenticate their callers themselves
 *    (`authenticates: true`, e.g. erasures guarded by a reader permission) are served on the
 *    public listener; the others are not served at all.
 *
 * Producer registration, token and key rotation stay CLI commands (`candor producer ...`) that
 * edit <data>/producers.json: that needs the operator's access to the host, which is stronger
 * than any credential a network route could check.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ProducerLimiter } from '../producers/limits.js';
import type { ProducerRegistry } from '../producers/registry.js';
import { readRegistryFile } from '../producers/registry.js';

/** A group of admin routes, mounted by mountAdminRoutes. */
export interface AdminRoutes {
  plugin: FastifyPluginAsync;
  /** True when every route of the group checks its caller's credential (safe on the public listener). */
  authenticates: boolean;
}

/**
 * Registers the admin route groups on the listener where they belong: `listener` is 'admin' for
 * the admin listener, 'public' for the public one (then `adminListener` says whether a separate
 * admin listener exists).
 */
export async function mountAdminRoutes(app: FastifyInstance, groups: readonly AdminRoutes[], listener: 'public' | 'admin', adminListener: boolean): Promise<void> {
  for (const g of groups) {
    if (listener === 'admin' || (!adminListener && g.authenticates)) await app.register(g.plugin);
  }
}

/** GET /v1/admin/producers: every producer, its scopes and limits, and what it has used. */
export function producerAdminRoutes(registry: ProducerRegistry, limiter: ProducerLimiter): AdminRoutes {
  const plugin: FastifyPluginAsync = async (app) => {
    app.get('/v1/admin/producers', async () => ({
      producers: readRegistryFile(registry.file).producers.map((p) => ({
        id: p.id,
        disabled: p.disabled,
        tenants: p.tenants,
        eventTypes: p.eventTypes,
        tokens: p.tokens.map((t) => t.id),
        mtls: p.mtls,
        signed: p.keys.length > 0,
        limits: limiter.state(p),
      })),
    }));
  };
  return { plugin, authenticates: false };
}

/** What a backup wrote (src/backup/backup.ts BackupManifest), as the route answers it. */
export interface BackupWritten {
  origin: string;
  size: number;
  checkpoint: string;
  contents: string[];
}

/**
 * POST /v1/admin/backup {"out": "/abs/dir"}: the serving process, which holds the store's LevelDB
 * lock, writes a consistent backup into a new directory on its own host (docs/operations.md).
 * Nothing of the backup (signing key, openings) crosses the connection: only where it is and what
 * checkpoint it holds. Admin listener only (`authenticates: false`).
 */
export function backupAdminRoutes(backup: (out: string) => Promise<BackupWritten>): AdminRoutes {
  const plugin: FastifyPluginAsync = async (app) => {
    app.post<{ Body: { out: string } }>(
      '/v1/admin/backup',
      { schema: { body: { type: 'object', required: ['out'], additionalProperties: false, properties: { out: { type: 'string', minLength: 1, maxLength: 4096 } } } } },
      async (req) => {
        const m = await backup(req.body.out);
        return { out: req.body.out, origin: m.origin, size: m.size, checkpoint: m.checkpoint, contents: m.contents };
      },
    );
  };
  return { plugin, authenticates: false };
}
