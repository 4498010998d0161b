/**
 * `candor config check | docs`. The config module (YAML, the log's defaults) is loaded by the
 * commands, so that `candor --help` does not pay for it.
 */
import { Command } from 'commander';
import { CandorError } from '@candor/core/errors';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check a configuration; print the reference of every key');
  const check: Command = config
    .command('check')
    .description('validate the configuration (defaults < file < CANDOR_* environment) and print the effective values; exits 1 naming a bad key')
    .option('--config <file>', 'YAML or JSON config file (env CANDOR_CONFIG)')
    .action(async (o: { config?: string }) => {
      try {
        const { loadConfig } = await import('../config.js');
        const { checkFiles, describeConfig } = await import('./config.js');
        const sources = new Map<string, string>();
        const c = loadConfig({ ...(o.config ? { file: o.config } : {}), sources });
        checkFiles(c);
        process.stdout.write(`${describeConfig(c, sources)}config OK\n`);
      } catch (err) {
        if (!(err instanceof CandorError)) throw err;
        check.showHelpAfterError(false);
        check.error(`candor: ${err.message}`, { exitCode: 1, code: `candor.${err.code}` });
      }
    });
  config
    .command('docs')
    .description('print the Markdown table of every configuration key (docs/configuration.md)')
    .action(async () => void process.stdout.write((await import('./config.js')).configTable()));
}
