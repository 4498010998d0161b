/**
 * Who may read events, and how the log records what readers did. Entries, search, export, live
 * tail, review timelines and disclosure of openings are not public (checkpoints, hash tiles and
 * proofs are): each needs an
 * authenticated reader with the permission, and is itself logged (audit-of-audit events written
 * by the log as producer "candor", AuthMethod.LOG). The transports get these as functions, so
 * each feature is testable without the others.
 */
import type { EventInit } from '@candor/schema/encoding';
import { CandorError } from '@candor/core/errors';
import type { Credentials } from '../producers/registry.js';

/**
 * `read-log` is the whole log as it is published (entries, entry bundles: every tenant's events),
 * for full audits and mirrors; it needs the tenants "*" (src/auditors/registry.ts).
 */
export type Permission = 'search' | 'export' | 'disclose' | 'erase' | 'read-log';
export const PERMISSIONS: readonly Permission[] = ['search', 'export', 'disclose', 'erase', 'read-log'];

export interface Reader {
  /** A pseudonymous reader (auditor) ID, recorded in audit-of-audit events. */
  readonly id: string;
  /** Tenants the reader may see: exact IDs, or "*" for all. */
  readonly tenants: readonly string[];
  readonly permissions: ReadonlySet<Permission>;
}

/**
 * Authenticates credentials to a reader that has `permission`, and, when `tenant` is given,
 * may see that tenant. Throws CandorError 'unauthenticated' or 'permission_denied'.
 */
export type Authorize = (credentials: Credentials, permission: Permission, tenant?: string) => Reader;

/** Appends events the log writes itself (producer "candor"); resolves once durable. */
export interface SystemEventSink {
  append(event: EventInit): Promise<{ index: number }>;
}

/**
 * Who may read entries (GET /entries, GET /tile/entries/..., gRPC GetEntries): anyone when the
 * log is public (config publicEntries), otherwise an auditor with `read-log`. Throws
 * CandorError 'unauthenticated' or 'permission_denied'.
 */
export function entryReaders(o: { publicEntries: boolean; authorize?: Authorize }): (credentials: Credentials) => void {
  if (o.publicEntries) return () => undefined;
  const authorize = o.authorize;
  return (credentials) => {
    if (!authorize) throw new CandorError('permission_denied', 'entries are not public on this log, and it has no auditor registry');
    try {
      authorize(credentials, 'read-log');
    } catch (err) {
      if (err instanceof CandorError) throw new CandorError(err.code, `entries are not public on this log (they hold every tenant's events): they need an auditor token with the read-log permission; ${err.message}`);
      throw err;
    }
  };
}
