/**
 * The images to check: the config's own list plus every include file, with defaults applied and
 * references normalized. Include globs are matched again on every call, so a file added to
 * images.d/ is picked up by the next run without a restart.
 */
import { fsReason } from '../util/fs.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import { parseReference, type ImageReference } from '../model/reference.js';
import { humanize } from './humanize.js';
import { stripNulls, type LoadedConfig } from './load.js';
import { ConfigProblems, displayPath, problemLine, sortLines, type KeyPath, type Locator, type Problem } from './problems.js';
import { includeFileSchema } from './schema.js';
import { applyDefaults, newerOnlyTagProblem, type ImageEntry } from '../sources/image-options.js';
import type { WatchedImage } from '../model/image.js';
import { loadFullYaml, readYaml, type YamlSource } from './source.js';
import { notifierRefProblems } from './validate.js';



/** How an include file's top level is named in messages (its items are `[0]`, `[1]`, …). */
const INCLUDE_ROOT = 'include file';

interface Declared {
  image: ImageEntry;
  source: string;
  /** Where problems about this image point: its file's locator and its key path there. */
  locate: Locator;
  path: KeyPath;
  root: string;
}

export async function resolveImages(loaded: LoadedConfig): Promise<WatchedImage[]> {
  const { config } = loaded;
  const declared: Declared[] = config.images.map((image, i) => ({
    image,
    source: loaded.imageSources[i]!,
    locate: loaded.locate,
    path: ['images', i],
    root: 'config',
  }));

  const problems: string[] = [];
  for (const file of await includeFiles(loaded, problems)) {
    const result = await readIncludeFile(file);
    problems.push(...result.problems);
    declared.push(...result.images);
  }

  const notifierNames = config.notifiers.map((n) => n.name);
  const seen = new Map<string, Declared>();
  const images: WatchedImage[] = [];
  // Worded after the loop, when yaml (for their positions) is loaded: see loadFullYaml.
  const found: Array<{ entry: Declared; problem: Problem }> = [];
  for (const entry of declared) {
    let ref: ImageReference;
    try {
      ref = parseReference(entry.image.name);
    } catch (err) {
      found.push({ entry, problem: { path: ['name'], message: errorMessage(err) } });
      continue;
    }
    if (entry.image.notifiers !== undefined) {
      for (const problem of notifierRefProblems(entry.image.notifiers, notifierNames, ['notifiers'])) found.push({ entry, problem });
    }

    const image = applyDefaults(entry.image, config.defaults, ref, entry.source);
    const versionProblem = newerOnlyTagProblem(image);
    if (versionProblem !== undefined) {
      found.push({ entry, problem: { path: ['name'], message: versionProblem } });
      continue;
    }
    const key = `${ref.name}\u0000${image.platform}`;
    const first = seen.get(key);
    if (first !== undefined) {
      found.push({ entry, problem: { path: ['name'], message: `${ref.name} for ${image.platform} is already watched (declared at ${first.source})` } });
      continue;
    }
    seen.set(key, entry);
    images.push(image);
  }

  if (found.length > 0) {
    await loadFullYaml();
    for (const { entry, problem } of found) {
      problems.push(problemLine(entry.locate, { ...problem, path: [...entry.path, ...problem.path] }, entry.root));
    }
  }
  if (problems.length > 0) throw new ConfigProblems(problems);
  return images;
}



/** Files matched by the include globs, relative to the config folder; sorted, each once, never the config itself. */
async function includeFiles(loaded: LoadedConfig, problems: string[]): Promise<string[]> {
  const own = path.resolve(loaded.file);
  const found = new Set<string>();
  if (loaded.config.include.length === 0) return [];
  // Loaded only when there is something to match: tinyglobby and its matchers cost ~30 ms of start-up.
  const { glob } = await import('tinyglobby');
  for (const [i, pattern] of loaded.config.include.entries()) {
    try {
      const files = await glob(pattern, { cwd: loaded.dir, absolute: true, onlyFiles: true, expandDirectories: false });
      for (const file of files) if (path.resolve(file) !== own) found.add(path.resolve(file));
    } catch (err) {
      await loadFullYaml();
      problems.push(problemLine(loaded.locate, { path: ['include', i], message: `cannot expand ${JSON.stringify(pattern)}: ${errorMessage(err)}` }));
    }
  }
  return [...found].sort();
}

async function readIncludeFile(file: string): Promise<{ images: Declared[]; problems: string[] }> {
  const shown = displayPath(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { images: [], problems: [`${shown}: cannot read include file: ${fsReason(err)}`] };
  }
  const source = await readYaml(file, text);
  // undefined: a problem in data read by the fast path; read again by the full one, for its positions.
  return includeImages(source) ?? includeImages(await readYaml(file, text, { full: true }))!;
}

/** The file's images or its problems; undefined for a problem in fast-path data, which the full path words. */
function includeImages(source: YamlSource): { images: Declared[]; problems: string[] } | undefined {
  if (source.errors.length > 0) return { images: [], problems: source.errors };

  const data = source.data === null || source.data === undefined ? [] : stripNulls(source.data);
  const parsed = includeFileSchema.safeParse(data);
  if (!parsed.success) {
    if (source.fast) return undefined;
    const context = { root: includeFileSchema, data, has: source.has };
    const problems = parsed.error.issues.flatMap((issue) => humanize(issue, context)).map((problem) => problemLine(source.locate, problem, INCLUDE_ROOT));
    return { images: [], problems: sortLines([...new Set(problems)]) };
  }
  return {
    images: parsed.data.map((image, i) => ({ image, source: source.line([i]), locate: source.locate, path: [i], root: INCLUDE_ROOT })),
    problems: [],
  };
}
