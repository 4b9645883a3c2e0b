/**
 * Which tags of a repository a watchRepo image follows. Pure: the tag list in, the kept tags out.
 *
 *   listed tags (duplicates removed, registry order kept)
 *   → drop cosign/attestation tags (sha256-<hex>.sig …)
 *   → includeTags (keep a tag matching any), excludeTags (drop a tag matching any); unanchored regexes
 *   → newerOnly: keep tags newer than the image's own tag (same flavour, no pre-releases, unless configured)
 *   → drop the image's own tag (it is always checked on its own, as a plain image)
 *   → sortTags: default (registry order), reverse, lexicographical (ascending), semver (newest first,
 *     non-versions last)
 *   → maxTags: the first N of that order (0 = all), so with semver it keeps the newest.
 */
import type { WatchedImage } from '../model/image.js';
import { isArtifactTag } from './artifacts.js';
import { parseTag, parseVersion, sortSemverDescending, whyNotNewer, type NotNewer } from './versions.js';

export type TagOptions = Pick<
  WatchedImage,
  'ref' | 'includeTags' | 'excludeTags' | 'sortTags' | 'maxTags' | 'newerOnly' | 'sameFlavour' | 'includePrereleases'
>;

export interface TagSelection {
  /** The tags to check besides the image's own, in the configured order. */
  kept: string[];
  /** How many tags each step removed (for the debug log). */
  dropped: { artifacts: number; notIncluded: number; excluded: number; notNewer: number; overMax: number };
}

const regexCache = new Map<string, RegExp>();
/** No includeTags/excludeTags (the usual case): nothing to build. */
const NO_FILTERS: readonly RegExp[] = [];

function regex(source: string): RegExp {
  let re = regexCache.get(source);
  if (re === undefined) {
    re = new RegExp(source); // validated at load
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

/** Why a listed tag is not watched (`herald tags` prints it; the run counts it). */
export type DropReason =
  | { step: 'duplicate' }
  | { step: 'artifact' }
  | { step: 'notIncluded' }
  | { step: 'excluded'; filter: string }
  | { step: 'notNewer'; why: NotNewer }
  | { step: 'own' }
  | { step: 'overMax'; maxTags: number };

/**
 * The one walk over a listing that both the run (selectTags) and `herald tags` (explainTags) use:
 * the kept tags in order, and `drop(tag, reason)` for every tag left out, as it is left out.
 */
export function walkTags(listed: readonly string[], opts: TagOptions, drop: (tag: string, reason: DropReason) => void): string[] {
  const include = opts.includeTags.length > 0 ? opts.includeTags.map(regex) : NO_FILTERS;
  const exclude = opts.excludeTags.length > 0 ? opts.excludeTags.map(regex) : NO_FILTERS;
  const ownTag = opts.ref.digest === undefined ? opts.ref.tag : undefined;
  // Throws a VersionError (an image error) if the own tag is not a version; config loading refuses that already.
  const current = opts.newerOnly ? parseVersion(opts.ref.tag ?? '') : undefined;

  let tags: string[] = [];
  const seen = new Set<string>();
  for (const tag of listed) {
    if (seen.has(tag)) {
      drop(tag, { step: 'duplicate' });
      continue;
    }
    seen.add(tag);
    if (isArtifactTag(tag)) {
      drop(tag, { step: 'artifact' });
      continue;
    }
    if (include.length > 0 && !include.some((re) => re.test(tag))) {
      drop(tag, { step: 'notIncluded' });
      continue;
    }
    const excludedBy = exclude.find((re) => re.test(tag));
    if (excludedBy !== undefined) {
      drop(tag, { step: 'excluded', filter: excludedBy.source });
      continue;
    }
    // The own tag is dropped whatever its version: no need to compare it.
    if (tag === ownTag) {
      drop(tag, { step: 'own' });
      continue;
    }
    const why = current === undefined ? null : whyNotNewer(parseTag(tag), current, opts);
    if (why !== null) drop(tag, { step: 'notNewer', why });
    else tags.push(tag);
  }
  // One tag or none is in every order already.
  if (tags.length > 1) tags = sortTags(tags, opts.sortTags);
  if (opts.maxTags > 0 && tags.length > opts.maxTags) {
    for (const tag of tags.slice(opts.maxTags)) drop(tag, { step: 'overMax', maxTags: opts.maxTags });
    tags = tags.slice(0, opts.maxTags);
  }
  return tags;
}

export function selectTags(listed: readonly string[], opts: TagOptions): TagSelection {
  const dropped = { artifacts: 0, notIncluded: 0, excluded: 0, notNewer: 0, overMax: 0 };
  const kept = walkTags(listed, opts, (_tag, reason) => {
    switch (reason.step) {
      case 'artifact':
        dropped.artifacts++;
        break;
      case 'notIncluded':
      case 'excluded':
      case 'notNewer':
      case 'overMax':
        dropped[reason.step]++;
        break;
      default: // duplicates and the own tag are not counted
    }
  });
  return { kept, dropped };
}

/** sortTags: default (registry order), reverse, lexicographical (ascending), semver (newest first, non-versions last). */
export function sortTags(tags: readonly string[], order: TagOptions['sortTags']): string[] {
  switch (order) {
    case 'reverse':
      return [...tags].reverse();
    case 'lexicographical':
      return [...tags].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    case 'semver':
      return sortSemverDescending(tags);
    case 'default':
      return [...tags];
  }
}
