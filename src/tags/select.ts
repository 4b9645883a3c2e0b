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
import { isNewer, parseTag, parseVersion, sortSemverDescending } from './versions.js';

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

function regex(source: string): RegExp {
  let re = regexCache.get(source);
  if (re === undefined) {
    re = new RegExp(source); // validated at load
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, re);
  }
  return re;
}

export function selectTags(listed: readonly string[], opts: TagOptions): TagSelection {
  const dropped = { artifacts: 0, notIncluded: 0, excluded: 0, notNewer: 0, overMax: 0 };
  const include = opts.includeTags.map(regex);
  const exclude = opts.excludeTags.map(regex);
  const ownTag = opts.ref.digest === undefined ? opts.ref.tag : undefined;
  // Throws a VersionError (an image error) if the own tag is not a version; config loading refuses that already.
  const current = opts.newerOnly ? parseVersion(opts.ref.tag ?? '') : undefined;

  let tags: string[] = [];
  for (const tag of new Set(listed)) {
    if (isArtifactTag(tag)) dropped.artifacts++;
    else if (include.length > 0 && !include.some((re) => re.test(tag))) dropped.notIncluded++;
    else if (exclude.some((re) => re.test(tag))) dropped.excluded++;
    else if (current !== undefined && !isNewer(parseTag(tag), current, opts)) {
      if (tag !== ownTag) dropped.notNewer++;
    } else if (tag !== ownTag) tags.push(tag);
  }

  switch (opts.sortTags) {
    case 'reverse':
      tags.reverse();
      break;
    case 'lexicographical':
      tags.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      break;
    case 'semver':
      tags = sortSemverDescending(tags);
      break;
    case 'default':
      break;
  }
  if (opts.maxTags > 0 && tags.length > opts.maxTags) {
    dropped.overMax = tags.length - opts.maxTags;
    tags = tags.slice(0, opts.maxTags);
  }
  return { kept: tags, dropped };
}
