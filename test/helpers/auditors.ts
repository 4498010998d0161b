// Auditors (readers) registered in a data dir's auditors.json, as `candor auditor add` does.
import { join } from 'node:path';
import { AUDITORS_FILE, newAuditorToken, updateAuditorsFile } from '../../src/auditors/registry.js';
import type { Permission } from '../../src/query/access.js';

export interface AuditorSpec {
  id: string;
  tenants: string[];
  permissions: Permission[];
}

/** Registers auditors; returns each one's bearer token by ID. */
export function addAuditors(dir: string, specs: readonly AuditorSpec[]): Record<string, string> {
  const tokens: Record<string, string> = {};
  updateAuditorsFile(join(dir, AUDITORS_FILE), (doc) => {
    for (const s of specs) {
      const t = newAuditorToken();
      doc.auditors.push({ ...s, tokens: [t.record], disabled: false, created: new Date().toISOString() });
      tokens[s.id] = t.token;
    }
  });
  return tokens;
}

/** A reader of the whole log (read-log on every tenant), for audits and mirrors. */
export function addLogReader(dir: string, id = 'log-reader'): string {
  return addAuditors(dir, [{ id, tenants: ['*'], permissions: ['read-log'] }])[id]!;
}
