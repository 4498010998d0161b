/**
 * Audit of the audit log (PCI DSS 10.2.1.3; audit-domain.md §7): every search, timeline read and
 * export by an auditor is itself appended to the log, through the SystemEventSink, as
 * audit.log.queried or audit.log.exported with the auditor as the actor. Query parameters may
 * name people, so the events carry a salted commitment to them (field "query"); the salt goes back
 * to the auditor, who alone can later open it. On by default; `auditReads: false` turns it off.
 */
import { ActorType, Outcome } from '@candor/schema/gen/candor/v1/event_pb';
import { commit } from '@candor/schema/commitment';
import type { EventInit } from '@candor/schema/encoding';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { Reader, SystemEventSink } from './access.js';
import type { ExportSummary } from './export.js';
import { filterJson } from './filter.js';

/** Who read, and from where (PCI DSS 10.2.2 "origination"). */
export interface ReadContext {
  reader: Reader;
  ip?: string;
  userAgent?: string;
}

export interface AuditRecord {
  /** The leaf index of the audit event. */
  index: number;
  /** The salt of the commitment to the query, for the reader to keep. */
  salt: Uint8Array;
}

/**
 * The tenant an audit event is filed under: the one tenant the read was limited to, or "*" for a
 * read across tenants.
 */
function tenantOf(ctx: ReadContext, tenants: readonly string[] | undefined): string {
  if (tenants && tenants.length === 1) return tenants[0]!;
  const own = ctx.reader.tenants;
  return !tenants && own.length === 1 && own[0] !== '*' ? own[0]! : '*';
}

function envelope(ctx: ReadContext, type: string, tenant: string, query: string): { init: EventInit; salt: Uint8Array } {
  const c = commit('query', query);
  return {
    salt: c.opening.salt,
    init: {
      type,
      tenantId: tenant,
      actor: { id: ctx.reader.id, type: ActorType.HUMAN },
      outcome: Outcome.SUCCESS,
      ...(ctx.ip || ctx.userAgent ? { source: { ip: ctx.ip ?? '', userAgent: ctx.userAgent ?? '', origin: 'api' } } : {}),
      commitments: [{ field: 'query', digest: c.digest }],
    },
  };
}

export class ReadAudit {
  readonly #sink: SystemEventSink | undefined;

  /** Without a sink, reads are not audited (config auditReads: false). */
  constructor(sink: SystemEventSink | undefined) {
    this.#sink = sink;
  }

  get enabled(): boolean {
    return this.#sink !== undefined;
  }

  /**
   * A search or timeline read: `what` names the operation ("search", "review.timeline"), `query`
   * its parameters; resolves once the audit event is durable (undefined when auditing is off).
   */
  async queried(ctx: ReadContext, what: string, query: Record<string, unknown>, tenants: readonly string[] | undefined, resultCount: number): Promise<AuditRecord | undefined> {
    if (!this.#sink) return undefined;
    const { init, salt } = envelope(ctx, 'audit.log.queried', tenantOf(ctx, tenants), JSON.stringify({ what, ...query }));
    init.labels = [{ key: 'operation', value: what }];
    init.body = { case: 'auditLogQueried', value: { queryCommitment: init.commitments![0]!.digest, resultCount: BigInt(resultCount) } };
    const { index } = await this.#sink.append(init);
    return { index, salt };
  }

  /** An export, once its body ended or was abandoned: the format, count and SHA-256 of what was sent. */
  async exported(ctx: ReadContext, s: ExportSummary): Promise<AuditRecord | undefined> {
    if (!this.#sink) return undefined;
    const { init, salt } = envelope(ctx, 'audit.log.exported', tenantOf(ctx, s.filter.tenant), filterJson(s.filter));
    init.labels = [{ key: 'complete', value: String(s.complete) }];
    init.body = {
      case: 'auditLogExported',
      value: {
        ...(s.filter.from ? { from: timestampFromMs(Date.parse(s.filter.from)) } : {}),
        ...(s.filter.to ? { to: timestampFromMs(Date.parse(s.filter.to)) } : {}),
        format: s.format,
        eventCount: BigInt(s.count),
        bundleDigest: s.sha256,
      },
    };
    const { index } = await this.#sink.append(init);
    return { index, salt };
  }
}
