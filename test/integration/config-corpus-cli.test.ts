/**
 * The broken-config corpus (test/fixtures/bad-config/) through the real CLI, as a user meets it:
 * `herald config validate -c FILE` and `herald check -c FILE` each exit 2 with exactly one line on
 * stderr, which names the file, the line and column, and says what the corpus file expects
 * (`# expect:`, `# at:`, `# file:` as in test/unit/config/corpus.test.ts). No stack trace, nothing
 * on stdout. The child processes run four at a time.
 *
 * Every file goes through `config validate`. `check` prints the same problem line behind "herald: ",
 * from the same loader; by default it runs on every twelfth file (a node start costs ~0.5 s of CPU
 * here), and on every file with HERALD_LONG_TESTS=1.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald, ROOT, type CliResult } from './helpers.js';

const corpus = path.join(ROOT, 'test/fixtures/bad-config');
const files = readdirSync(corpus).filter((f) => f.endsWith('.yml')).sort();
const LONG = process.env.HERALD_LONG_TESTS === '1';

function directive(text: string, name: string): string | undefined {
  return new RegExp(`^# ${name}: (.*)$`, 'm').exec(text)?.[1]?.trim();
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

describe('bad-config corpus through the CLI', () => {
  const checked = files.filter((_, i) => LONG || i % 12 === 0);
  it(`every file (${files.length} with config validate, ${checked.length} with check) gives exit 2 and one line naming file, line, column and key`, async () => {
    const jobs = [
      ...files.map((name) => ({ name, command: 'validate' as const })),
      ...checked.map((name) => ({ name, command: 'check' as const })),
    ];
    const results = await inParallel(jobs, 4, async ({ name, command }) => {
      const file = path.join('test/fixtures/bad-config', name);
      const args = command === 'validate' ? ['config', 'validate', '-c', file] : ['check', '-c', file];
      // HOME without a docker config: check must fail on the config, before anything else.
      return { name, command, result: await herald(args, { cwd: ROOT, timeoutMs: 60_000 }) };
    });

    const failures: string[] = [];
    for (const { name, command, result } of results) {
      const problem = judge(name, command, result);
      if (problem !== undefined) failures.push(`${command} ${name}: ${problem}\n    stderr: ${JSON.stringify(result.stderr.slice(0, 400))}`);
    }
    expect(failures).toEqual([]);
  }, 300_000);
});

function judge(name: string, command: 'validate' | 'check', r: CliResult): string | undefined {
  const text = readFileSync(path.join(corpus, name), 'utf8');
  const expected = directive(text, 'expect')!;
  const at = directive(text, 'at');
  const named = directive(text, 'file') ?? name;
  if (r.code !== 2) return `exit ${r.code}, expected 2`;
  if (r.stdout !== '') return `printed on stdout: ${JSON.stringify(r.stdout.slice(0, 200))}`;
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  if (lines.length !== 1) return `${lines.length} lines on stderr, expected 1`;
  const line = lines[0]!;
  if (/\bat .*\.(js|ts):\d+/.test(line) || /internal error/.test(line)) return 'a stack trace or internal error';
  // validate prints the problem as is; other commands prefix "herald: ".
  const prefix = command === 'validate' ? '' : 'herald: ';
  const position = new RegExp(`^${escape(prefix)}(?:[^:]*/)?${escape(named)}:(\\d+):(\\d+): `).exec(line);
  if (position === null) return `does not start with ${prefix}${named}:line:col`;
  if (at !== undefined && `${position[1]}:${position[2]}` !== at) return `position ${position[1]}:${position[2]}, expected ${at}`;
  if (!line.includes(expected)) return `does not say "${expected}"`;
  return undefined;
}
