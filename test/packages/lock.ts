// A package-lock.json for a throwaway project that installs our packages from `npm pack` tarballs,
// with every other package pinned to the version and integrity of this repository's lock file.
// `npm ci --offline` then installs from npm's cache alone: the root `npm ci` put every tarball
// there, but not the registry metadata a plain `npm install --offline` would need.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [k: string]: unknown;
}

/** `tarballs`: package name -> its tarball (path, bytes) and package.json. */
export function lockForTarballs(rootLockFile: string, project: string, tarballs: Record<string, { file: string; bytes: Uint8Array; manifest: LockEntry }>): object {
  const root = (JSON.parse(readFileSync(rootLockFile, 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const packages: Record<string, LockEntry> = {
    '': { name: project, dependencies: Object.fromEntries(Object.entries(tarballs).map(([n, t]) => [n, `file:${t.file}`])) },
  };
  const queue: Array<[path: string, entry: LockEntry]> = [];
  for (const [name, t] of Object.entries(tarballs)) {
    const entry: LockEntry = {
      version: t.manifest.version!,
      resolved: `file:${t.file}`,
      integrity: `sha512-${createHash('sha512').update(t.bytes).digest('base64')}`,
      ...(t.manifest.dependencies ? { dependencies: t.manifest.dependencies } : {}),
    };
    packages[`node_modules/${name}`] = entry;
    queue.push([`node_modules/${name}`, entry]);
  }
  // npm's lookup: a dependency of the package at P is at P/node_modules/N, else one level up.
  const locate = (from: string, name: string): string => {
    for (let p = from; ; ) {
      const candidate = `${p ? `${p}/` : ''}node_modules/${name}`;
      if (packages[candidate] ?? root[candidate]) return candidate;
      if (!p) throw new Error(`${name} (needed by ${from}) is not in the lock file`);
      const i = p.lastIndexOf('/node_modules/');
      p = i < 0 ? '' : p.slice(0, i);
    }
  };
  while (queue.length > 0) {
    const [path, entry] = queue.shift()!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const at = locate(path.startsWith('node_modules/@candor/') ? '' : path, name);
      if (packages[at]) continue;
      const e = root[at]!;
      if (e.link) throw new Error(`${name} is a workspace link in the root lock; pack it too`);
      packages[at] = e;
      queue.push([at, e]);
    }
  }
  return { name: project, lockfileVersion: 3, requires: true, packages };
}
