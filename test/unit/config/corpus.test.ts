/**
 * The corpus of broken configs in test/fixtures/bad-config/: each file says in its first lines what
 * the user must be told (`# expect:`), optionally where (`# at: line:col`), and which file the
 * message names when it is not the config itself (`# file:`, for problems in include files).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/util/errors.js';
import { resolveImages } from '../../../src/config/images.js';
import { loadConfig } from '../../../src/config/load.js';
import type { ConfigProblems } from '../../../src/config/problems.js';

const corpus = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/bad-config');
const files = readdirSync(corpus).filter((f) => f.endsWith('.yml')).sort();

function directive(text: string, name: string): string | undefined {
  return new RegExp(`^# ${name}: (.*)$`, 'm').exec(text)?.[1]?.trim();
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('bad-config corpus', () => {
  it('has a broken config for every class of error', () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  it.each(files)('%s is rejected with one line naming file, line and problem', async (name) => {
    const file = path.join(corpus, name);
    const text = readFileSync(file, 'utf8');
    const expected = directive(text, 'expect');
    expect(text.startsWith('# expect: '), 'first line must be "# expect: …"').toBe(true);
    const named = directive(text, 'file') ?? name;
    const at = directive(text, 'at');

    const error = await loadConfig(file, {})
      .then((loaded) => resolveImages(loaded))
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(error, 'the config must be rejected').toBeInstanceOf(ConfigError);
    const err = error as ConfigProblems;
    expect(err.exitCode).toBe(2);
    expect(err.message).not.toContain('\n');
    expect(err.stack ?? '').toBeDefined();

    const position = new RegExp(`${escape(named)}:(\\d+):(\\d+): `).exec(err.message);
    expect(position, `"${err.message}" names ${named}:line:col`).not.toBeNull();
    expect(err.message).toContain(expected);
    if (at !== undefined) expect(`${position![1]}:${position![2]}`).toBe(at);
    // The full list carries the same line, for `config validate`.
    expect(err.problems.some((line) => line.includes(expected!))).toBe(true);
  });
});
