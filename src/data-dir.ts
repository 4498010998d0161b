/**
 * Only `candor serve` and the `init` commands create a data directory. Every other command that
 * takes `--data` checks it exists first, so a mistyped path fails instead of silently starting a
 * new, empty log (and registering producers or auditors into it).
 */
import { existsSync } from 'node:fs';
import { CandorError } from '@candor/core/errors';

export function existingDataDir(dir: string): string {
  if (!existsSync(dir)) throw new CandorError('not_found', `no log data directory ${dir}: create it with "candor init --data ${dir}" (or "candor serve --data ${dir}"), or fix --data`);
  return dir;
}
