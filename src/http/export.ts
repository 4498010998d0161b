/**
 * GET /v1/export?format=ndjson|csv|bundle&<filters>: a filtered range of events, streamed
 * (src/query/export.ts; docs/export.md). Needs an auditor token with the "export" permission. The
 * response carries the leaf index range it covers (Candor-Export-Start, Candor-Export-End): each
 * record's index over that range is the progress, and the bundle adds progress lines through
 * stretches without a match. Once the body ended (or the client left), the export is logged as
 * audit.log.exported with the SHA-256 of what was sent.
 *
 *   curl -H "Authorization: Bearer $AUDITOR_TOKEN" 'http://127.0.0.1:8080/v1/export?format=bundle&tenant=org-1&type=review.*' > reviews.candor-export
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { CandorError } from '@candor/core/errors';
import { readableTenants } from '../auditors/registry.js';
import { EXPORT_EXTENSION } from '../query/signed-export.js';
import { EXPORT_FORMATS, type ExportFormat, type Exporter } from '../query/export.js';
import { parseFilter } from '../query/filter.js';
import { readContext, type ReadRoutesOptions } from './reviews.js';

const EXTENSIONS: Record<ExportFormat, string> = { ndjson: '.ndjson', csv: '.csv', bundle: EXPORT_EXTENSION };

export const exportRoutes: FastifyPluginAsync<ReadRoutesOptions & { exporter: Exporter }> = async (app, { authorize, audit, exporter }) => {
  app.get('/v1/export', async (req, reply) => {
    const ctx = readContext(req, authorize, 'export');
    const { format = 'ndjson', ...rest } = req.query as Record<string, unknown>;
    if (typeof format !== 'string' || !EXPORT_FORMATS.includes(format as ExportFormat)) {
      throw new CandorError('invalid_argument', `format must be one of ${EXPORT_FORMATS.join(', ')}`);
    }
    const filter = parseFilter(rest, 'query');
    const tenants = readableTenants(ctx.reader, filter.tenant);
    if (tenants) filter.tenant = tenants;
    const x = exporter.open(format as ExportFormat, filter);
    void x.done.then((summary) =>
      audit.exported(ctx, summary).catch((err: unknown) => req.log.error({ err }, 'the audit-of-audit event of an export could not be logged')),
    );
    const body = Readable.from(x.body);
    // A client that goes away ends the generator, which settles `done` with what was sent.
    reply.raw.on('close', () => body.destroy());
    return reply
      .type(x.contentType)
      .header('Candor-Export-Start', String(x.start))
      .header('Candor-Export-End', String(x.end))
      .header('Content-Disposition', `attachment; filename="candor-export-${x.start}-${x.end}${EXTENSIONS[x.format]}"`)
      .send(body);
  });
};
