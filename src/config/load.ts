/**
 * Finding and loading the config file: YAML with positions → HERALD_* env overrides → schema →
 * whole-document checks → *File secrets. Every problem is one line naming where it comes from
 * (`file:line:col: key.path: problem`, or `environment HERALD_X: key.path: problem`).
 *
 * Paths in the config resolve against the config file's folder (include globs, *File secrets,
 * caFile), except db.path: a relative db.path stays relative and the store resolves it against the
 * process's working directory, like any other path given to a command.
 */
import { fsReason } from '../util/fs.js';
import { isPlainObject } from '../util/text.js';
import { readFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import path from 'node:path';
import { notifierCatalog } from '../notify/notifiers/index.js';
import { applyEnvOverrides, envOrigin } from './env.js';
import { humanize, quote } from './humanize.js';
import { ConfigProblems, displayPath, problemLine, sortLines, type KeyPath, type Locator, type Problem } from './problems.js';
import { configSchema, type Config } from './schema.js';
import { schemaAt } from './schema-walk.js';
import { readYaml, type YamlSource } from './source.js';
import { forEachSecretHolder, validateConfig, validatePartial } from './validate.js';

export interface LoadedConfig {
  /** Parsed: durations in ms, defaults applied, secrets from *File read into the plain key. */
  config: Config;
  /** Absolute path of the config file. */
  file: string;
  /** Its folder: include globs and relative *File paths resolve against it (db.path does not). */
  dir: string;
  /** Where each of config.images was declared: `file:line` or `environment HERALD_IMAGES_0_NAME`. */
  imageSources: string[];
  /** `file:line:col` (or `environment HERALD_X`) of any key path of the loaded config. */
  locate: Locator;
  /** Whether the file or the environment sets this key path (false: its default applies). Absent: treat every key as set. */
  isSet?: (path: KeyPath) => boolean;
}

export { ConfigProblems } from './problems.js';

export const DEFAULT_CONFIG_FILES = ['herald.yml', 'config/herald.yml', '/etc/herald/herald.yml'];

/** Lookup order: explicit (-c) > env.HERALD_CONFIG > ./herald.yml > ./config/herald.yml > /etc/herald/herald.yml. */
export function findConfigFile(explicit?: string, env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  if (explicit !== undefined && explicit !== '') return requireFile(path.resolve(cwd, explicit), '');
  const fromEnv = env.HERALD_CONFIG;
  if (fromEnv !== undefined && fromEnv !== '') return requireFile(path.resolve(cwd, fromEnv), ' (from HERALD_CONFIG)');
  const candidates = DEFAULT_CONFIG_FILES.map((candidate) => path.resolve(cwd, candidate));
  const found = candidates.find((candidate) => isFile(candidate));
  if (found === undefined) {
    throw new ConfigProblems([`no config file found; looked at ${candidates.join(', ')} (give one with -c FILE or HERALD_CONFIG)`]);
  }
  return found;
}

function requireFile(file: string, from: string): string {
  try {
    if (statSync(file).isFile()) return file;
    throw new ConfigProblems([`config file ${file}${from}: is not a regular file`]);
  } catch (err) {
    if (err instanceof ConfigProblems) throw err;
    throw new ConfigProblems([`config file ${file}${from}: ${fsReason(err)}`]);
  }
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const absolute = path.resolve(file);
  const dir = path.dirname(absolute);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    throw new ConfigProblems([`${displayPath(absolute)}: cannot read config file: ${fsReason(err)}`]);
  }

  const source = await readYaml(absolute, text);
  try {
    return await loadSource(source, env, dir);
  } catch (err) {
    // Any problem with data read by the fast path: load again by the full one, whose positions
    // (and error wording) every message was always made with.
    if (!source.fast || !(err instanceof ConfigProblems)) throw err;
    return await loadSource(await readYaml(absolute, text, { full: true }), env, dir);
  }
}

/**
 * What loadSource throws on fast-path data with any problem: loadConfig loads the file again by the
 * full path, which finds, words and places every problem, so none is worded here (placing one would
 * load the full path's parser out of turn, see source.ts).
 */
function fastPathProblem(): ConfigProblems {
  return new ConfigProblems([]);
}

async function loadSource(source: YamlSource, env: NodeJS.ProcessEnv, dir: string): Promise<LoadedConfig> {
  const absolute = source.file;
  if (source.errors.length > 0) throw new ConfigProblems(source.errors);

  const data = source.data === null || source.data === undefined ? {} : stripNulls(source.data);
  const lines: string[] = [];
  let origins = new Map<string, string>();
  if (isPlainObject(data)) {
    const overrides = applyEnvOverrides(data, env);
    origins = overrides.origins;
    lines.push(...overrides.problems);
  }

  const locate: Locator = (keyPath, atKey) => {
    const variable = envOrigin(origins, keyPath);
    return variable !== undefined ? `environment ${variable}` : source.locate(keyPath, atKey);
  };
  const report = (problems: Problem[]): void => {
    if (problems.length > 0 && source.fast) throw fastPathProblem();
    for (const problem of problems) lines.push(problemLine(locate, problem));
  };

  const parsed = configSchema.safeParse(data);
  if (!parsed.success) {
    if (source.fast) throw fastPathProblem();
    const context = { root: configSchema, data, has: (p: KeyPath) => envOrigin(origins, p) === undefined && source.has(p) };
    const shapeProblems = parsed.error.issues.flatMap((issue) => humanize(issue, context));
    const reported = new Set(shapeProblems.map((p) => JSON.stringify(p.path)));
    report(shapeProblems);
    report(validatePartial(data).filter((p) => !reported.has(JSON.stringify(p.path))));
    throw new ConfigProblems(sortLines(dedupe(lines)));
  }

  const config = parsed.data;
  // Before the checks: a check that reads a file (mail's tls.caFile) must find it where the user
  // meant, next to the config, whatever the working directory.
  resolveFilePaths(config, dir);
  report(validateConfig(config));
  if (lines.length === 0) report(await readSecretFiles(config, dir));
  if (lines.length > 0) throw new ConfigProblems(sortLines(dedupe(lines)));

  const imageSources = config.images.map((_, i) => {
    const variable = envOrigin(origins, ['images', i]);
    return variable !== undefined ? `environment ${variable}` : source.line(['images', i]);
  });
  const isSet = (p: KeyPath): boolean => envOrigin(origins, p) !== undefined || source.has(p);
  return { config, file: absolute, dir, imageSources, locate, isSet };
}

/**
 * For every secret with a *File twin: read the file (relative to the config folder), drop exactly one
 * trailing newline, and put the content in the plain key. The *File key stays, made absolute.
 * Problems name the *File key and the OS reason, never the content.
 */
async function readSecretFiles(config: Config, dir: string): Promise<Problem[]> {
  const reads: Promise<Problem | undefined>[] = [];
  forEachSecretHolder(config, (holder, base, keys) => {
    for (const key of keys) {
      const fileKey = `${key}File`;
      const name = holder[fileKey];
      if (typeof name !== 'string') continue;
      const absolute = path.resolve(dir, name);
      holder[fileKey] = absolute;
      if (holder[key] !== undefined) continue;
      reads.push(
        Promise.resolve()
          .then(() => readFile(absolute, 'utf8'))
          .then(
          (content) => {
            const value = content.endsWith('\r\n') ? content.slice(0, -2) : content.endsWith('\n') ? content.slice(0, -1) : content;
            const schema = schemaAt(configSchema, [...base, key], config);
            if (schema && !schema.safeParse(value).success) {
              return { path: [...base, fileKey], message: value === '' ? `${quote(name)} is empty` : `the content of ${quote(name)} is not a valid ${key}` };
            }
            holder[key] = value;
            return undefined;
          },
          (err: unknown) => ({ path: [...base, fileKey], message: `cannot read ${quote(name)}: ${fsReason(err)}` }),
        ),
      );
    }
  });
  return (await Promise.all(reads)).filter((problem): problem is Problem => problem !== undefined);
}

/** File names in the config (caFile keys) resolve against the config file's folder. */
function resolveFilePaths(config: Config, dir: string): void {
  for (const registry of config.registries) if (registry.caFile !== undefined) registry.caFile = path.resolve(dir, registry.caFile);
  for (const notifier of config.notifiers) notifierCatalog.resolvePaths(notifier, dir);
}

/** `key:` with nothing after it means "not set", as most YAML-configured tools treat it. */
export function stripNulls(value: unknown, seen = new WeakSet<object>()): unknown {
  // YAML aliases can make shared (even circular) structures; visit each once.
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const item of value) stripNulls(item, seen);
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      if (value[key] === null) delete value[key];
      else stripNulls(value[key], seen);
    }
  }
  return value;
}


function dedupe(lines: string[]): string[] {
  return [...new Set(lines)];
}
