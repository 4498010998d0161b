/**
 * Who may read events, and how the log records what readers did. Search, export, live tail,
 * review timelines and disclosure of openings are not public (tiles and proofs are): each needs an
 * authenticated reader with the permission, and is itself logged (audit-of-audit events written
 * by the log as producer "candor", AuthMethod.LOG). The transports get these as functions, so
 * each feature is testable without the others.
 */
import type { EventInit } from '@candor/schema/encoding';
import type { Credentials } from '../producers/registry.js';

export type Permission = 'search' | 'export' | 'disclose' | 'erase';
export const PERMISSIONS: readonly Permission[] = ['search', 'export', 'disclose', 'erase'];

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
