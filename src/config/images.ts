/**
 * The images to check: the config's own list plus every include file, with defaults applied and
 * references normalized. Include globs are matched again on every call, so a file added to
 * images.d/ is picked up by the next run without a restart.
 */
import { fsReason } from '../util/fs.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../util/errors.js';
import { hubLink as defaultHubLink } from '../model/hublink.js';
import { parseReference, type ImageReference } from '../model/reference.js';
import { humanize } from './humanize.js';
import { stripNulls, type LoadedConfig } from './load.js';
import { ConfigProblems, displayPath, problemLine, sortLines, type KeyPath, type Locator, type Problem } from './problems.js';
import { includeFileSchema, type DefaultsConfig, type ImageEntry } from './schema.js';
import type { WatchedImage } from '../model/image.js';
import { parseYaml } from './source.js';
import { imageNameProblem, notifierRefProblems } from './validate.js';
import { parseTag } from '../tags/versions.js';


/** The platform images are checked for when neither the image nor defaults name one. Images are linux. */
export function hostPlatform(): string {
  switch (process.arch) {
    case 'x64':
      return 'linux/amd64';
    case 'arm64':
      return 'linux/arm64/v8';
    case 'arm': {
      const version = (process.config.variables as { arm_version?: string }).arm_version;
      return `linux/arm/v${version === '6' ? '6' : '7'}`;
    }
    case 'ia32':
      return 'linux/386';
    case 'ppc64':
      return 'linux/ppc64le';
    default:
      return `linux/${process.arch}`;
  }
}

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
  for (const entry of declared) {
    const report = (problem: Problem): void => {
      problems.push(problemLine(entry.locate, { ...problem, path: [...entry.path, ...problem.path] }, entry.root));
    };
    const bad = imageNameProblem(entry.image.name);
    if (bad !== undefined) {
      report({ path: ['name'], message: bad });
      continue;
    }
    for (const problem of notifierRefProblems(entry.image.notifiers, notifierNames, ['notifiers'])) report(problem);

    const image = applyDefaults(entry.image, config.defaults, parseReference(entry.image.name), entry.source);
    const versionProblem = checkNewerOnlyTag(image);
    if (versionProblem !== undefined) {
      report({ path: ['name'], message: versionProblem });
      continue;
    }
    const key = `${image.ref.name}\u0000${image.platform}`;
    const first = seen.get(key);
    if (first !== undefined) {
      report({ path: ['name'], message: `${image.ref.name} for ${image.platform} is already watched (declared at ${first.source})` });
      continue;
    }
    seen.set(key, entry);
    images.push(image);
  }

  if (problems.length > 0) throw new ConfigProblems(problems);
  return images;
}

export function applyDefaults(image: ImageEntry, defaults: DefaultsConfig, ref: ImageReference, source: string): WatchedImage {
  const notifiers = image.notifiers ?? defaults.notifiers;
  const hubLink = image.hubLink ?? defaults.hubLink ?? defaultHubLink(ref);
  return {
    name: image.name,
    ref,
    platform: image.platform ?? defaults.platform ?? hostPlatform(),
    notifyOn: [...(image.notifyOn ?? defaults.notifyOn ?? ['new', 'update'])],
    ...(notifiers !== undefined ? { notifiers: [...notifiers] } : {}),
    metadata: { ...defaults.metadata, ...image.metadata },
    ...(hubLink !== undefined ? { hubLink } : {}),
    watchRepo: image.watchRepo ?? defaults.watchRepo ?? false,
    includeTags: [...(image.includeTags ?? defaults.includeTags ?? [])],
    excludeTags: [...(image.excludeTags ?? defaults.excludeTags ?? [])],
    sortTags: image.sortTags ?? defaults.sortTags ?? 'default',
    maxTags: image.maxTags ?? defaults.maxTags ?? 0,
    newerOnly: image.newerOnly ?? defaults.newerOnly ?? false,
    sameFlavour: image.sameFlavour ?? defaults.sameFlavour ?? true,
    includePrereleases: image.includePrereleases ?? defaults.includePrereleases ?? false,
    source,
  };
}

/** newerOnly compares with the image's own tag, so with watchRepo that tag must be a version. */
function checkNewerOnlyTag(image: WatchedImage): string | undefined {
  if (!image.watchRepo || !image.newerOnly) return undefined;
  const tag = image.ref.tag;
  if (tag === undefined) return 'newerOnly needs a version tag to compare with, not only a digest';
  if (parseTag(tag) === null) return `newerOnly needs a version tag to compare with (like 1.27.2 or v3.2.1-alpine); "${tag}" is not one`;
  return undefined;
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
  const source = parseYaml(file, text);
  if (source.errors.length > 0) return { images: [], problems: source.errors };

  const data = source.data === null || source.data === undefined ? [] : stripNulls(source.data);
  const parsed = includeFileSchema.safeParse(data);
  if (!parsed.success) {
    const context = { root: includeFileSchema, data, has: source.has };
    const problems = parsed.error.issues.flatMap((issue) => humanize(issue, context)).map((problem) => problemLine(source.locate, problem, INCLUDE_ROOT));
    return { images: [], problems: sortLines([...new Set(problems)]) };
  }
  return {
    images: parsed.data.map((image, i) => ({ image, source: source.line([i]), locate: source.locate, path: [i], root: INCLUDE_ROOT })),
    problems: [],
  };
}
