// The docs stay true: every relative link in README.md, docs/ and the packages' READMEs resolves,
// and every `candor <command> --flag` they show names a command and flags the CLI has (read from
// the built CLI's own --help).
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'clients/gateway/README.md', 'clients/go/README.md', 'src/core/README.md', 'src/schema/README.md'].filter((f) =>
  existsSync(join(ROOT, f)),
);

interface Help {
  commands: Set<string>;
  options: Set<string>;
}

const helps = new Map<string, Promise<Help>>();

/** What `candor <path> --help` lists: subcommands and long options. */
function help(path: string[]): Promise<Help> {
  const key = path.join(' ');
  let h = helps.get(key);
  if (!h) {
    h = promisify(execFile)(process.execPath, [CLI, ...path, '--help'], { timeout: 20_000 }).then(({ stdout }) => {
      const commands = new Set<string>();
      const options = new Set<string>(['--help']);
      let section = '';
      for (const line of stdout.split('\n')) {
        if (/^(Options|Commands|Arguments):/.test(line)) section = line;
        else if (section.startsWith('Commands') && /^ {2}[a-z]/.test(line)) commands.add(line.trim().split(/[\s|]/)[0]!);
        else if (section.startsWith('Options')) for (const m of line.matchAll(/(?:^ {2}|, )(--[a-z0-9-]+)/g)) options.add(m[1]!.replace(/^--no-/, '--'));
      }
      return { commands, options };
    });
    helps.set(key, h);
  }
  return h;
}

/** The code in a Markdown file: fenced blocks and inline spans, with the line each starts on. */
function codeOf(text: string): Array<{ line: number; code: string }> {
  const out: Array<{ line: number; code: string }> = [];
  let fence: string[] | undefined;
  text.split('\n').forEach((l, i) => {
    if (/^\s*```/.test(l)) {
      fence = fence ? (out.push(...fence.map((code, k) => ({ line: i - fence!.length + k + 1, code }))), undefined) : [];
      return;
    }
    if (fence) return void fence.push(l);
    for (const m of l.matchAll(/`([^`]+)`/g)) out.push({ line: i + 1, code: m[1]! });
  });
  return out;
}

/** Each `candor ...` in the code of a Markdown text, checked against the CLI's --help. */
async function checkCommands(doc: string, text: string): Promise<{ checked: number; wrong: string[] }> {
  const top = await help([]);
  const wrong: string[] = [];
  let checked = 0;
  for (const { line, code } of codeOf(text)) {
    for (const m of code.matchAll(/(?:^|[\s(=$"'])(?:npx )?candor ([a-z][a-z-]*(?:[ \t]+[^\n|;&#>]*)?)/g)) {
      const words = m[1]!.trim().split(/\s+/);
      if (!top.commands.has(words[0]!.split('|')[0]!)) {
        if (words.length > 1 && words[1]!.startsWith('--')) wrong.push(`${doc}:${line}: unknown command "candor ${words[0]}"`);
        continue;
      }
      checked++;
      const path: string[] = [];
      let h = top;
      let i = 0;
      for (; i < words.length; i++) {
        const w = words[i]!.split('|')[0]!;
        if (!h.commands.has(w)) break;
        path.push(w);
        h = await help(path);
      }
      for (const w of words.slice(i)) {
        const flag = /^(--[a-z0-9-]+)/.exec(w)?.[1];
        if (flag && !h.options.has(flag.replace(/^--no-/, '--'))) wrong.push(`${doc}:${line}: "candor ${path.join(' ')}" has no ${flag}`);
      }
    }
  }
  return { checked, wrong };
}

describe('docs', () => {
  it('every relative link resolves', () => {
    const broken: string[] = [];
    for (const doc of DOCS) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!;
        if (!target || /^[a-z]+:/.test(target)) continue;
        if (!existsSync(resolve(ROOT, dirname(doc), decodeURIComponent(target)))) broken.push(`${doc}: ${m[1]}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('every candor command and flag they show exists in the CLI', { timeout: 120_000 }, async () => {
    let checked = 0;
    const wrong: string[] = [];
    for (const doc of DOCS) {
      const r = await checkCommands(doc, readFileSync(join(ROOT, doc), 'utf8'));
      checked += r.checked;
      wrong.push(...r.wrong);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('the check itself catches a wrong flag and a wrong command', async () => {
    const r = await checkCommands('x.md', 'Run `candor serve --port 80`, then:\n```sh\nnpx candor producer add gw --tenant t --tennant u\ncandor frobnicate --now\n```\n');
    expect(r.wrong).toEqual(['x.md:1: "candor serve" has no --port', 'x.md:3: "candor producer add" has no --tennant', 'x.md:4: unknown command "candor frobnicate"']);
  });
});
