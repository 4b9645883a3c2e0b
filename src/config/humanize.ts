/**
 * Zod issues rewritten for people who edit YAML: what the key must be, what it is instead, and a
 * hint for the usual YAML slips (a version number that needs quotes, `yes` for a boolean). Values
 * are only quoted where they cannot be secrets (enums, types, image names).
 */
import type { z } from 'zod';
import { formatPath, type KeyPath, type Problem } from './problems.js';
import { describeNumber, enumValues, keysOf, leafKind, schemaAt, shapesOf, unwrap, def } from './schema-walk.js';

type Issue = z.core.$ZodIssue;

export interface HumanizeContext {
  root: z.ZodType;
  data: unknown;
  /** Whether the source has the key (so an empty `key:` is told apart from a missing one). */
  has(path: KeyPath): boolean;
}

export function humanize(issue: Issue, ctx: HumanizeContext): Problem[] {
  const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
  const value = valueAt(ctx.data, path);
  const schema = schemaAt(ctx.root, path, ctx.data);

  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], atKey: true, message: unknownKey(key, path, ctx) }));

    case 'invalid_type':
      if (value === undefined) return [missing(path, ctx, schema ? expected(schema, issue.expected) : issue.expected)];
      {
        const wanted = schema ? expected(schema, issue.expected) : article(issue.expected);
        // A number where an integer is wanted: the value says it best (numbers are never secrets here).
        if (typeof value === 'number' && /^(an integer|a number)/.test(wanted)) return [{ path, message: `must be ${wanted}, got ${value}` }];
        return [{ path, message: `must be ${wanted}, not ${describe(value)}${hint(issue.expected, value)}` }];
      }

    case 'too_small':
    case 'too_big':
      return [{ path, message: sizeMessage(issue, schema) }];

    case 'invalid_value':
      return [{ path, message: `must be one of ${issue.values.map(String).join(', ')}${typeof value === 'string' ? ` (got ${quote(value)})` : ''}` }];

    case 'invalid_format':
      if (issue.format === 'url') return [{ path, message: 'must be a URL such as https://example.com/path' }];
      return [{ path, message: /^Invalid/.test(issue.message) ? `has the wrong format (${issue.format})` : issue.message }];

    case 'invalid_union': {
      if (issue.discriminator !== undefined) {
        const options = ('options' in issue ? (issue.options ?? []) : []).map(String).join(', ');
        if (value === undefined) return [missing(path, ctx, `one of ${options}`)];
        const noun = path[0] === 'notifiers' ? 'notifier type' : issue.discriminator;
        return [{ path, message: `unknown ${noun} ${typeof value === 'string' ? quote(value) : describe(value)} (expected ${options})` }];
      }
      if (value === undefined) return [missing(path, ctx, schema ? expected(schema, 'value') : 'a value')];
      return [{ path, message: `must be ${schema ? expected(schema, 'value') : 'a valid value'}, not ${describe(value)}` }];
    }

    case 'custom':
      // Node words a bad regex as "/src/: reason" after our own "invalid regex /src/: ".
      return [{ path, message: issue.message.replace(/^(invalid regex \/.*\/): \/.*\/[a-z]*: /s, '$1: ') }];

    default:
      return [{ path, message: issue.message.charAt(0).toLowerCase() + issue.message.slice(1) }];
  }
}

function missing(path: KeyPath, ctx: HumanizeContext, what: string): Problem {
  const key = path[path.length - 1];
  if (ctx.has(path)) return { path, message: `is empty; expected ${what}` };
  const parent = path.slice(0, -1);
  // Say what the key takes only when it is a choice the user has to make (type: mail, webhook, slack).
  const choice = what.startsWith('one of ') ? ` (${what})` : '';
  return { path: parent, shownPath: parent, message: `missing required key ${quote(String(key))}${choice}` };
}

function unknownKey(key: string, parentPath: KeyPath, ctx: HumanizeContext): string {
  const parent = schemaAt(ctx.root, parentPath, ctx.data);
  const parentValue = valueAt(ctx.data, parentPath);
  const where = parentPath.length === 0 ? 'at the top level' : `in ${formatPath(parentPath)}`;
  if (!parent) return `unknown key ${quote(key)} ${where}`;
  // A key that belongs to another type of a discriminated union (url on a slack notifier).
  const [selected, ...others] = shapesOf(parent, parentValue);
  if (selected && !(key in selected) && others.some((shape) => key in shape)) {
    const d = def(unwrap(parent));
    const tag = d.discriminator && parentValue && typeof parentValue === 'object' ? (parentValue as Record<string, unknown>)[d.discriminator] : undefined;
    if (typeof tag === 'string') return `unknown key ${quote(key)} ${where}: a ${tag} ${parentPath[0] === 'notifiers' ? 'notifier' : 'entry'} does not take it`;
  }
  const known = selected ? Object.keys(selected) : keysOf(parent, parentValue);
  const suggestion = closest(key, known);
  return `unknown key ${quote(key)} ${where}${suggestion ? ` (did you mean ${quote(suggestion)}?)` : ''}`;
}

/** The schema's expectation in words: "an integer from 1 to 256", "one of new, update, error". */
function expected(schema: z.ZodType, fallback: string): string {
  const inner = unwrap(schema);
  const d = def(inner);
  if (inner.description?.startsWith('duration')) return 'a duration such as 30s, 5m or 1h30m (a bare number means seconds)';
  switch (leafKind(inner)) {
    case 'number':
      return describeNumber(inner);
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${enumValues(inner).join(', ')}`;
    case 'mixed':
      return listWords((d.options ?? []).map((option) => leafKind(option)).filter((k) => k !== 'other').map((k) => (k === 'boolean' ? 'a boolean' : article(k))));
    default:
      break;
  }
  if (d.type === 'array') return 'a list';
  if (d.type === 'object' || d.type === 'record' || shapesOf(inner).length > 0) return 'a map of keys';
  return article(fallback);
}

/** ['a', 'b', 'c'] → 'a, b or c'. */
function listWords(words: string[]): string {
  return words.length <= 1 ? (words[0] ?? '') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

function sizeMessage(issue: Extract<Issue, { code: 'too_small' | 'too_big' }>, schema: z.ZodType | undefined): string {
  const small = issue.code === 'too_small';
  const bound = Number(small ? (issue as { minimum: unknown }).minimum : (issue as { maximum: unknown }).maximum);
  switch (issue.origin) {
    case 'number':
    case 'int':
      return `must be ${schema ? describeNumber(schema) : `${small ? '≥' : '≤'} ${bound}`}`;
    case 'string':
      if (small && bound === 1) return 'must not be empty';
      return `must be at ${small ? 'least' : 'most'} ${bound} characters long`;
    case 'array':
    case 'set':
      return `must list at ${small ? 'least' : 'most'} ${bound} item${bound === 1 ? '' : 's'}`;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

function hint(expectedType: string, value: unknown): string {
  if (expectedType === 'string' && (typeof value === 'number' || typeof value === 'boolean')) return ' (put it in quotes)';
  if (expectedType === 'boolean' && typeof value === 'string' && /^(yes|no|on|off|y|n)$/i.test(value)) return ' (YAML reads yes/no/on/off as strings)';
  if (expectedType === 'number' && typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return ' (remove the quotes)';
  return '';
}

export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return Object.getPrototypeOf(value) === Object.prototype ? 'a map' : 'a non-JSON value';
    default:
      return typeof value;
  }
}

function article(noun: string): string {
  if (noun === 'object' || noun === 'record' || noun === 'map') return 'a map of keys';
  if (noun === 'array') return 'a list';
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** Values in messages: quoted, one line, shortened. */
export function quote(value: string): string {
  const short = value.length > 60 ? `${value.slice(0, 57)}…` : value;
  return JSON.stringify(short);
}

export function valueAt(data: unknown, path: KeyPath): unknown {
  let current = data;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(current, segment)) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** The known key closest to a mistyped one, if it is close enough to be a likely typo. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = candidate.toLowerCase() === input.toLowerCase() ? 0 : levenshtein(input.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(input.length / 3)) ? best : undefined;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
