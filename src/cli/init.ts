/**
 * `candor init`: create a log's data directory and signer key without serving, so producers and
 * auditors can be registered before the first start. With `serve`, the only command that creates
 * a log data directory (see ../data-dir.ts).
 */
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';

export function registerInitCommand(program: Command, fail: (err: unknown) => never): void {
  program
    .command('init')
    .description('create the data directory and the log key (as serve does on first start), then exit')
    .option('--config <file>', 'YAML or JSON config file (env CANDOR_CONFIG)')
    .option('--data <dir>', 'data directory (env CANDOR_DATA; default ./data)')
    .option('--origin <name>', 'log origin for a new log (env CANDOR_ORIGIN)')
    .action(async (o: { config?: string; data?: string; origin?: string }) => {
      try {
        const { loadConfig } = await import('../config.js');
        const { loadLogKeys } = await import('../keys.js');
        const config = loadConfig({ ...(o.config ? { file: o.config } : {}), flags: { data: o.data, origin: o.origin } });
        mkdirSync(config.data, { recursive: true });
        const keys = loadLogKeys({ dataDir: config.data, origin: config.origin, keyFiles: config.keys });
        process.stdout.write(`${keys.created ? 'created' : 'already initialised:'} log "${keys.origin}" in ${config.data}\n  verifier key   ${keys.vkeys.join('\n                 ')}\n`);
      } catch (err) {
        fail(err);
      }
    });
}
