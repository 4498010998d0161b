// The explorer's build: one HTML page and its script and stylesheet, with relative paths so the
// same files work served by the log at / and copied to any static host (docs/explorer.md).
// Reproducible: no timestamps or absolute paths go into the output, so the same sources give the
// same bytes (test/explorer/build.test.ts builds twice and compares).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/explorer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // CSP forbids inline scripts and styles: never inline assets or the module preload polyfill.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
