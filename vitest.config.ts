import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

// The workspace packages resolve to their TypeScript sources, so a test sees an edit without a
// rebuild and every import of a package is one module instance (processes the tests spawn run
// the built code in dist/).
const packages: [string, string][] = [
  ['@candor/core', here('./src/core/')],
  ['@candor/schema', here('./src/schema/')],
  ['@candor/gateway', here('./clients/gateway/')],
];

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@candor\/schema\/grpc$/, replacement: here('./src/schema/node/grpc.ts') },
      ...packages.flatMap(([name, dir]) => [
        { find: new RegExp(`^${name}$`), replacement: `${dir}index.ts` },
        { find: new RegExp(`^${name}/(.*)$`), replacement: `${dir}$1.ts` },
      ]),
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
