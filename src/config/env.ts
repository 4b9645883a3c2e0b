/**
 * Environment overrides: HERALD_ + the key path in upper case joined by '_', list items by index
 * (HERALD_WATCH_SCHEDULE, HERALD_NOTIFIERS_0_URL, HERALD_IMAGES_0_METADATA_TEAM). Keys are matched
 * case-insensitively against the schema, so camelCase keys need no separators (RUNONSTARTUP).
 * The value is converted to the key's type: numbers, booleans (true/false/1/0/yes/no), comma lists;
 * for a map of free keys (headers, metadata) everything after the map's name is the entry key.
 * Overrides are applied to the parsed file before validation, so they are checked like the file.
 *
 * - An index one past the end of a list adds an item: a container can define a notifier from env.
 * - An empty value removes the key, as if the file did not set it.
 * - Setting a secret (password) drops the file's *File twin (passwordFile) and the other way round:
 *   the environment wins over the file.
 */
import { isPlainObject } from '../util/text.js';
import type { z } from 'zod';
import { configSchema, SECRET_FILE_KEYS } from './schema.js';
import { closest, quote } from './humanize.js';
import { formatPath, type KeyPath } from './problems.js';
import { def, describeNumber, enumValues, fieldOf, keysOf, leafKind, shapesOf, unwrap } from './schema-walk.js';

export const ENV_PREFIX = 'HERALD_';
/** HERALD_ variables that are settings of the process, not config keys. */
export const RESERVED_ENV = new Set(['HERALD_CONFIG', 'HERALD_LOG_LEVEL']);

/**
 * What Kubernetes puts in every pod's environment for a Service named `herald` or `herald-…`
 * (service links, on by default): HERALD_SERVICE_HOST, HERALD_SERVICE_PORT[_NAME], HERALD_PORT and
 * HERALD_PORT_8080_TCP[_PROTO|_PORT|_ADDR], or HERALD_DB_SERVICE_HOST for `herald-db`. They are not
 * meant for herald; a variable of this shape that names no config key is skipped instead of being
 * an unknown-key error, so herald starts in such a namespace. A real key still wins
 * (HERALD_NOTIFIERS_0_PORT sets a mail port).
 */
const KUBERNETES_SERVICE_LINK = /^HERALD_(?:[A-Z0-9_]+_)?(?:SERVICE_HOST|SERVICE_PORT(?:_[A-Z0-9_]+)?|PORT(?:_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)?)$/;

/** Which variable set (or created) which key path. Keyed by JSON of the path. */
export type EnvOrigins = Map<string, string>;

export interface EnvResult {
  origins: EnvOrigins;
  /** One line each: `environment HERALD_X: key.path: problem`. */
  problems: string[];
}

/** The variable responsible for a key path: the one that set it or one of its ancestors. */
export function envOrigin(origins: EnvOrigins, path: KeyPath): string | undefined {
  // The usual case, asked once per image: no HERALD_* override at all.
  if (origins.size === 0) return undefined;
  for (let end = path.length; end >= 0; end--) {
    const name = origins.get(JSON.stringify(path.slice(0, end)));
    if (name !== undefined) return name;
  }
  return undefined;
}

/** One HERALD_* variable, resolved: the key path it sets and its converted value (undefined removes the key). */
interface EnvOverride {
  name: string;
  path: (string | number)[];
  value: unknown;
}

class EnvProblem extends Error {}

/** Applies every HERALD_* variable to `data` (a parsed config map) in place. */
export function applyEnvOverrides(data: Record<string, unknown>, env: NodeJS.ProcessEnv): EnvResult {
  const origins: EnvOrigins = new Map();
  const problems: string[] = [];
  const overrides: EnvOverride[] = [];

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.has(name) || raw === undefined) continue;
    try {
      overrides.push(resolveOverride(name, raw, data));
    } catch (err) {
      if (!(err instanceof EnvProblem)) throw err;
      if (KUBERNETES_SERVICE_LINK.test(name)) continue;
      problems.push(`environment ${name}: ${err.message}`);
    }
  }

  // Lower indexes first, so HERALD_NOTIFIERS_1_* can follow HERALD_NOTIFIERS_0_* into a new list.
  overrides.sort((a, b) => comparePaths(a.path, b.path) || a.name.localeCompare(b.name));
  for (const override of overrides) {
    try {
      assign(data, override, origins);
    } catch (err) {
      if (!(err instanceof EnvProblem)) throw err;
      problems.push(`environment ${override.name}: ${err.message}`);
    }
  }
  return { origins, problems: problems.sort() };
}

/** Maps a variable name to a key path (walking the schema) and converts its value. */
function resolveOverride(name: string, raw: string, data: unknown): EnvOverride {
  const segments = name.slice(ENV_PREFIX.length).split('_');
  const path: (string | number)[] = [];
  let schema: z.ZodType = configSchema;
  let cursor: unknown = data;
  const fail = (message: string): never => {
    throw new EnvProblem(`${formatPath(path)}: ${message}`);
  };

  for (let i = 0; ; i++) {
    const segment = segments[i];
    const inner = unwrap(schema);
    const d = def(inner);

    if (d.type === 'array' && d.element) {
      if (segment === undefined) return { name, path, value: raw === '' ? undefined : convertList(raw, d.element, name, fail) };
      if (!/^\d+$/.test(segment)) fail(`is a list; expected an item index after it, e.g. ${name.slice(0, name.length - segments.slice(i).join('_').length)}0`);
      const index = Number(segment);
      path.push(index);
      schema = d.element;
      cursor = child(cursor, index);
      continue;
    }

    if (d.type === 'record' && d.valueType) {
      if (segment === undefined || segments.slice(i).join('') === '') fail(`is a map; add the entry's key to the name, e.g. ${name}_KEY`);
      const written = segments.slice(i).join('_');
      // Keep the file's spelling of an existing entry; otherwise the name as written.
      const existing = cursor && typeof cursor === 'object' ? Object.keys(cursor).find((k) => k.toLowerCase() === written.toLowerCase()) : undefined;
      const key = existing ?? written;
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') fail(`${quote(key)} cannot be used as a key`);
      path.push(key);
      return { name, path, value: raw === '' ? undefined : convertScalar(raw, d.valueType, fail) };
    }

    if (shapesOf(inner, cursor).length > 0) {
      const keys = keysOf(inner, cursor);
      if (segment === undefined) fail(`is a section, not a value; set one of its keys, e.g. ${name}_${(keys[0] ?? 'KEY').toUpperCase()}`);
      const key = keys.find((k) => k.toLowerCase() === segment!.toLowerCase());
      if (key === undefined) {
        const suggestion = closest(segment!, keys);
        const prefix = name.slice(0, name.length - segments.slice(i).join('_').length);
        const where = path.length === 0 ? 'no top-level key' : 'no key';
        fail(`${where} ${quote(segment!)}${suggestion ? ` (did you mean ${prefix}${suggestion.toUpperCase()}?)` : ''}`);
      }
      path.push(key!);
      schema = fieldOf(inner, key!, cursor)!;
      cursor = child(cursor, key!);
      continue;
    }

    if (segment !== undefined) fail(`is a single value; ${quote(segments.slice(i).join('_'))} after it does not name a key`);
    return { name, path, value: raw === '' ? undefined : convertScalar(raw, schema, fail) };
  }
}

function convertList(raw: string, element: z.ZodType, name: string, fail: (message: string) => never): unknown[] {
  if (shapesOf(element).length > 0) fail(`is a list of sections; set its items by index, e.g. ${name}_0_${(keysOf(element)[0] ?? 'KEY').toUpperCase()}`);
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
    .map((item) => convertScalar(item, element, fail));
}

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

function convertScalar(raw: string, schema: z.ZodType, fail: (message: string) => never): unknown {
  const value = raw.trim();
  switch (leafKind(schema)) {
    case 'number':
      if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value)) fail(`must be ${describeNumber(schema)}, got ${quote(raw)}`);
      return Number(value);
    case 'boolean':
      if (TRUE.has(value.toLowerCase())) return true;
      if (FALSE.has(value.toLowerCase())) return false;
      return fail(`must be true or false (or 1/0, yes/no), got ${quote(raw)}`);
    case 'enum':
      // Left as written; validation names the allowed values.
      return enumValues(schema).find((v) => v.toLowerCase() === value.toLowerCase()) ?? raw;
    case 'string':
    case 'mixed':
      return raw;
    default:
      return fail('cannot be set from the environment');
  }
}

function assign(data: Record<string, unknown>, override: EnvOverride, origins: EnvOrigins): void {
  const { path, value, name } = override;
  let container: Record<string | number, unknown> | unknown[] = data;
  for (let k = 0; k < path.length; k++) {
    const segment = path[k]!;
    const last = k === path.length - 1;
    if (Array.isArray(container) && typeof segment === 'number' && segment > container.length) {
      throw new EnvProblem(
        `${formatPath(path.slice(0, k + 1))}: index ${segment} is past the end of ${formatPath(path.slice(0, k))}, which has ${container.length} item${container.length === 1 ? '' : 's'}; add items in order`,
      );
    }
    const record = container as Record<string | number, unknown>;
    if (last) {
      if (value === undefined) {
        if (!Array.isArray(container)) delete record[segment];
      } else {
        record[segment] = value;
      }
      origins.set(JSON.stringify(path), name);
      dropSecretTwin(record, segment, path, origins);
      return;
    }
    const wantList = typeof path[k + 1] === 'number';
    let next = record[segment];
    if (next === undefined || next === null) {
      if (value === undefined) return; // removing a key below something absent: nothing to do
      next = wantList ? [] : {};
      record[segment] = next;
      const key = JSON.stringify(path.slice(0, k + 1));
      if (!origins.has(key)) origins.set(key, name);
    } else if (wantList ? !Array.isArray(next) : !isPlainObject(next)) {
      throw new EnvProblem(`${formatPath(path.slice(0, k + 1))}: is not a ${wantList ? 'list' : 'map'} in the config file, so it has no ${quote(String(path[k + 1]))}`);
    }
    container = next as Record<string | number, unknown> | unknown[];
  }
}

/** The environment wins over the file: setting `password` drops the file's `passwordFile`, and vice versa. */
function dropSecretTwin(record: Record<string | number, unknown>, key: string | number, path: KeyPath, origins: EnvOrigins): void {
  if (typeof key !== 'string') return;
  const secrets: readonly string[] = SECRET_FILE_KEYS;
  const twin = secrets.includes(key) ? `${key}File` : key.endsWith('File') && secrets.includes(key.slice(0, -4)) ? key.slice(0, -4) : undefined;
  if (twin === undefined || !(twin in record)) return;
  if (origins.has(JSON.stringify([...path.slice(0, -1), twin]))) return; // both from env: validation reports it
  delete record[twin];
}

function child(value: unknown, key: string | number): unknown {
  return value && typeof value === 'object' ? (value as Record<string | number, unknown>)[key] : undefined;
}


function comparePaths(a: KeyPath, b: KeyPath): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y));
  }
  return a.length - b.length;
}
