/**
 * How config problems reach the user: one line each, `<where>: <key.path>: <problem>`, where
 * `<where>` is `file:line:col` or `environment HERALD_X`. A load that finds several problems throws
 * one ConfigProblems carrying all of them, so `config validate` can print every line.
 */
import path from 'node:path';
import { ConfigError } from '../util/errors.js';
import { oneLine } from '../util/text.js';

/** A key path into the config: ['images', 2, 'name']. */
export type KeyPath = readonly (string | number)[];

export interface Problem {
  path: KeyPath;
  message: string;
  /** Point at the key itself rather than its value (unknown keys). */
  atKey?: boolean;
  /** Show this path instead of `path` (a missing key is shown as its parent). */
  shownPath?: KeyPath;
}

/** Turns a key path into `file:line:col` or `environment HERALD_X`. */
export type Locator = (path: KeyPath, atKey?: boolean) => string;

export class ConfigProblems extends ConfigError {
  /** Every problem found, one line each, in file order. */
  readonly problems: string[];
  constructor(problems: string[]) {
    const first = problems[0] ?? 'invalid config';
    const more = problems.length - 1;
    super(more > 0 ? `${first} (and ${more} more problem${more === 1 ? '' : 's'})` : first);
    this.name = 'ConfigProblems';
    this.problems = problems;
  }
}

/** `images[2].name`, `watch.workers`, `[0].name` (an include file's list), `headers["X Auth"]`. */
export function formatPath(keyPath: KeyPath, root = 'config'): string {
  let out = '';
  for (const segment of keyPath) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out === '' ? root : out;
}

export function problemLine(locate: Locator, problem: Problem, root?: string): string {
  const where = locate(problem.path, problem.atKey);
  return `${where}: ${formatPath(problem.shownPath ?? problem.path, root)}: ${oneLine(problem.message)}`;
}


/** A path as the user would recognize it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

/** Sorts `file:line:col` lines by position (environment lines first), keeping the order otherwise. */
export function sortLines(lines: string[]): string[] {
  const position = (line: string): [number, number] => {
    if (line.startsWith('environment ')) return [0, 0];
    const match = /^[^\s].*?:(\d+):(\d+): /.exec(line);
    return match ? [Number(match[1]), Number(match[2])] : [0, 0];
  };
  return lines
    .map((line, index) => ({ line, index, pos: position(line) }))
    .sort((a, b) => a.pos[0] - b.pos[0] || a.pos[1] - b.pos[1] || a.index - b.index)
    .map((entry) => entry.line);
}

