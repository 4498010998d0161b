// The folders show the layering: no import cycle between top-level folders (src/<x>, clients/<x>,
// bench), found with dependency-cruiser over the sources, type-only imports included.
// KNOWN lists the cycles that exist today (issue 16: the log layer still imports the audit-event
// domain, storage/fsck imports log/tree). The test fails on any other cycle, and on a KNOWN one
// that is gone, so the list only shrinks.
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Each known cycle as its folders, sorted and joined by " ". */
const KNOWN: string[] = [
  // log/service -> query/terms, query/source -> log/service, storage/fsck -> log/tree,
  // query/search -> producers/registry -> storage/jsonfile, log -> storage/store (types).
  'src/log src/producers src/query src/storage',
];

/** src/log/service.ts -> src/log; bench/x.ts -> bench; src/app.ts stays a file of its own. */
function folderOf(path: string): string {
  const m = /^((?:src|clients)\/[^/]+)\/|^(bench)\//.exec(path);
  return m ? (m[1] ?? m[2]!) : path;
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('folder layering', () => {
  it('has no import cycle between top-level folders beyond the known ones', { timeout: 120_000 }, async () => {
    const cwd = process.cwd();
    process.chdir(ROOT);
    let result;
    try {
      result = await cruise(['src', 'clients', 'bench'], {
        tsPreCompilationDeps: true,
        exclude: { path: '(^|/)(dist|node_modules|go)/|^src/schema/gen/' },
        doNotFollow: { path: 'node_modules' },
      }, undefined, { tsConfig: { fileName: 'tsconfig.json' } } as never);
    } finally {
      process.chdir(cwd);
    }
    const modules = (result.output as { modules: Array<{ source: string; dependencies: Array<{ resolved: string; coreModule: boolean; couldNotResolve: boolean }> }> }).modules;
    expect(modules.length).toBeGreaterThan(100);
    const graph = new Map<string, Set<string>>();
    const edges = new Map<string, string>();
    for (const m of modules) {
      const from = folderOf(m.source);
      if (!/^(src|clients|bench)\//.test(m.source)) continue;
      for (const d of m.dependencies) {
        if (d.coreModule || d.couldNotResolve || !/^(src|clients|bench)\//.test(d.resolved)) continue;
        const to = folderOf(d.resolved);
        if (to === from) continue;
        if (!graph.has(from)) graph.set(from, new Set());
        graph.get(from)!.add(to);
        edges.set(`${from} -> ${to}`, `${m.source} -> ${d.resolved}`);
      }
    }
    const found = cycles(graph).map((c) => c.join(' '));
    // Name one import per edge of each new cycle, so the message says what to move.
    const explain = (c: string) => {
      const members = new Set(c.split(' '));
      return `${c}:\n${[...edges].filter(([k]) => k.split(' -> ').every((f) => members.has(f))).map(([, v]) => `  ${v}`).join('\n')}`;
    };
    expect(found.filter((c) => !KNOWN.includes(c)).map(explain), 'new folder cycles').toEqual([]);
    expect(KNOWN.filter((c) => !found.includes(c)), 'known cycles that are gone: remove them from KNOWN').toEqual([]);
  });
});
