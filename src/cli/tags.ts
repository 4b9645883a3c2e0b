/**
 * `herald tags REF` and `herald tags --current TAG --tags-file FILE`: every tag as herald reads it and
 * why a run watches it or not (src/tags/explain.ts). With REF the tags come from the registry and the
 * filters from REF's config entry when it has one; with --tags-file from the file and the flags.
 */
import { readFileSync } from 'node:fs';
import { explainTags, type Explanation } from '../tags/explain.js';
import { parseVersion } from '../tags/versions.js';
import type { TagOptions } from '../tags/select.js';
import { parseReference, type ImageReference } from '../model/reference.js';
import { UsageError, UserError } from '../util/errors.js';
import { loadFromOptions, loggerFor, print, printJson, table, type CommandOptions } from './context.js';

export interface TagsOptions extends CommandOptions {
  current?: string;
  tagsFile?: string;
  include?: string[];
  exclude?: string[];
  newerOnly?: boolean;
  sameFlavour?: boolean;
  includePrereleases?: boolean;
  sort?: TagOptions['sortTags'];
  maxTags?: string;
  json?: boolean;
}

type Filters = Omit<TagOptions, 'ref'>;

/** The filters given as flags (the config's defaults where a flag is absent). */
function flagFilters(opts: TagsOptions): Filters {
  for (const source of [...(opts.include ?? []), ...(opts.exclude ?? [])]) {
    try {
      new RegExp(source);
    } catch (err) {
      throw new UsageError(`bad regex /${source}/: ${(err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '')}`);
    }
  }
  const maxTags = opts.maxTags === undefined ? 0 : Number(opts.maxTags);
  if (!Number.isInteger(maxTags) || maxTags < 0) throw new UsageError(`--max-tags must be a whole number, 0 or more (got "${opts.maxTags}")`);
  return {
    includeTags: opts.include ?? [], excludeTags: opts.exclude ?? [], sortTags: opts.sort ?? 'default', maxTags,
    newerOnly: opts.newerOnly ?? false, sameFlavour: opts.sameFlavour ?? true, includePrereleases: opts.includePrereleases ?? false,
  };
}

function reference(raw: string): ImageReference {
  try {
    return parseReference(raw);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function tags(ref: string | undefined, opts: TagsOptions): Promise<number> {
  let explanation: Explanation;
  if (opts.tagsFile !== undefined || ref === undefined) {
    if (ref !== undefined) throw new UsageError('give either REF or --tags-file, not both');
    if (opts.tagsFile === undefined || opts.current === undefined) throw new UsageError('give REF, or --current TAG with --tags-file FILE');
    const filters = flagFilters(opts);
    const own = reference(`herald.invalid/tags-file:${opts.current}`);
    if (filters.newerOnly) checkVersion(opts.current);
    explanation = explainTags(readTagsFile(opts.tagsFile), { ...filters, ref: own });
  } else {
    explanation = await fromRegistry(reference(ref), opts);
  }
  if (opts.json) printJson(explanation);
  else printTable(explanation);
  return 0;
}

function checkVersion(tag: string): void {
  try {
    parseVersion(tag);
  } catch (err) {
    throw new UsageError(`--newer-only: ${(err as Error).message}`);
  }
}

function readTagsFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

async function fromRegistry(ref: ImageReference, opts: TagsOptions): Promise<Explanation> {
  const loaded = await loadFromOptions(opts);
  const { resolveImages } = await import('../config/images.js');
  const configured = (await resolveImages(loaded)).find((image) => image.ref.name === ref.name);
  const filters: Filters = configured ?? flagFilters(opts);
  if (configured === undefined && filters.newerOnly) checkVersion(ref.tag ?? '');
  const { RegistryClient } = await import('../registry/client.js');
  const client = new RegistryClient({ registries: loaded.config.registries, logger: loggerFor(opts), retries: 1 });
  try {
    const listing = await client.listTags(ref);
    return explainTags(listing.tags, { ...filters, ref });
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot list the tags of ${ref.registry}/${ref.repository}: ${(err as Error).message}`, 1);
  } finally {
    await client.close();
  }
}

function printTable(e: Explanation): void {
  const c = e.current;
  if (c.tag !== null) print(`current ${c.tag}: ${c.version === null ? 'not a version' : `version ${c.version}, flavour ${c.flavour}${c.prerelease ? ', pre-release' : ''}`}`);
  print(
    table(
      ['TAG', 'VERSION', 'FLAVOUR', 'PRE', 'NEWER', 'KEPT', 'WHY'],
      e.tags.map((t) => [t.tag, t.version ?? '-', t.flavour ?? '-', t.prerelease ? 'yes' : '', t.newer === null ? '-' : t.newer ? 'yes' : '', t.kept ? 'yes' : 'no', t.kept ? '' : t.reason]),
    ),
  );
  print(`${e.selected.length} of ${e.tags.length} tags kept${e.selected.length > 0 ? `: ${e.selected.slice(0, 10).join(', ')}${e.selected.length > 10 ? ', …' : ''}` : ''}`);
}
