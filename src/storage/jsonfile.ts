/**
 * Small JSON documents the CLI edits while a server reads them (<data>/producers.json,
 * <data>/auditors.json): changed under a lock file, written atomically (write, fsync, rename), so a
 * running server never reads half a file and two commands never lose each other's change; and a
 * cheap stamp to notice a change without reading the file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CandorError } from '@candor/core/errors';

/**
 * Reads the document with `read`, applies `change`, checks the result with `check`, and replaces
 * the file; `what` names the kind of command in the lock error ("producer", "auditor").
 */
export function updateJsonFile<D, T>(file: string, what: string, read: (file: string) => D, check: (doc: D, file: string) => unknown, change: (doc: D) => T): T {
  const lock = `${file}.lock`;
  // Entries may be registered before the server first starts: create its data dir as it would.
  mkdirSync(dirname(file), { recursive: true });
  let fd: number;
  try {
    fd = openSync(lock, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CandorError('unavailable', `${lock} exists: another ${what} command is running (delete the file if none is)`);
    }
    throw new CandorError('unavailable', `cannot lock ${file}: ${(err as Error).message}`);
  }
  try {
    const doc = read(file);
    const result = change(doc);
    check(doc, file);
    const tmp = `${file}.tmp`;
    const out = openSync(tmp, 'w', 0o600);
    try {
      writeSync(out, `${JSON.stringify(doc, null, 2)}\n`);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, file);
    return result;
  } finally {
    closeSync(fd);
    unlinkSync(lock);
  }
}

/** Changes when the file is replaced or edited: inode, size and mtime ("absent" if there is none). */
export function fileStamp(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'absent';
  }
}

/**
 * Calls `reload` every `watchMs` (default 1 s; 0: never), so a running log picks up edits the
 * CLI makes to a registry file. A reload that throws keeps the previous state and is reported.
 */
export function watchFile(reload: () => void, opts: { watchMs?: number; onReloadError?: (err: unknown) => void }): NodeJS.Timeout | undefined {
  const ms = opts.watchMs ?? 1000;
  if (ms <= 0) return undefined;
  const timer = setInterval(() => {
    try {
      reload();
    } catch (err) {
      opts.onReloadError?.(err);
    }
  }, ms);
  timer.unref();
  return timer;
}
