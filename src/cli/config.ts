/**
 * `candor config ...` (registered by config-commands.ts): check a configuration before starting a
 * log with it, and print the reference table of docs/configuration.md from the schema in
 * src/config.ts (so the documentation cannot drift from the code).
 *
 *   config check [--config FILE]   validate defaults < file < environment; print the effective config
 *   config docs                    print the Markdown table of every key
 */
import { accessSync, constants } from 'node:fs';
import { stringify } from 'yaml';
import { CandorError } from '@candor/core/errors';
import { CONFIG_DEFAULTS, FIELDS, type Config } from '../config.js';

/** A value as printed: secrets are file paths already; the witness policy as its parts. */
function printable(key: keyof Config, c: Config): unknown {
  if (key === 'witnessing' && c.witnessing) {
    const { policy, ...settings } = c.witnessing;
    return { witnesses: policy.witnesses.map((w) => ({ name: w.name, vkey: w.vkey, url: w.url })), quorum: policy.description, ...settings };
  }
  return c[key];
}

/** Files named by the config must be readable by the log; secrets are checked without being read out. */
export function checkFiles(c: Config): void {
  const files: Array<[keyof Config, string]> = [
    ...c.keys.map((f): [keyof Config, string] => ['keys', f]),
    ...(['grpcTlsCert', 'grpcTlsKey', 'grpcTlsClientCa'] as const).flatMap((k): Array<[keyof Config, string]> => (c[k] ? [[k, c[k]]] : [])),
  ];
  for (const [key, file] of files) {
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      throw new CandorError('invalid_argument', `config ${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

/** The effective configuration as YAML, each key commented with where its value came from. */
export function describeConfig(c: Config, sources: ReadonlyMap<string, string>): string {
  const lines: string[] = [];
  for (const key of Object.keys(FIELDS) as Array<keyof Config>) {
    const value = printable(key, c);
    if (value === undefined) continue;
    const text = stringify({ [key]: value }, { lineWidth: 0 }).trimEnd().split('\n');
    const from = sources.get(key) ?? 'default';
    text[0] = `${text[0]}    # ${from}${FIELDS[key].secret ? ', secret: a file path' : ''}`;
    lines.push(...text);
  }
  return `${lines.join('\n')}\n`;
}

/** docs/configuration.md's table: key, environment variable, flag, default, meaning. */
export function configTable(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = (Object.entries(FIELDS) as Array<[keyof Config, (typeof FIELDS)[keyof Config]]>).map(([key, f]) => {
    const dflt = f.default ?? (CONFIG_DEFAULTS[key] === undefined ? '' : `\`${String(CONFIG_DEFAULTS[key])}\``);
    const secret = f.secret ? ' **Secret: a file path; the file is never logged.**' : '';
    return `| \`${key}\` | \`${f.env}\` | ${f.flag ? `\`${f.flag}\`` : ''} | ${cell(dflt)} | ${cell(f.doc ?? '')}${secret} |`;
  });
  return ['| Key | Environment | Flag (`candor serve`) | Default | Meaning |', '|---|---|---|---|---|', ...rows, ''].join('\n');
}
