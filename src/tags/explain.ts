/**
 * `herald tags`: every listed tag as herald reads it (version, flavour, pre-release), whether the
 * image's filters keep it and why not, and whether it is newer than the image's own tag. Pure, and
 * built on the same walk as the run (select.ts walkTags), so it can never explain a different choice
 * than the one a run makes.
 */
import { walkTags, sortTags, type DropReason, type TagOptions } from './select.js';
import { parseTag, versionText, whyNotNewer, type TagVersion } from './versions.js';

export interface TagReading {
  tag: string;
  /** The version as herald reads it (1.27.2, 1.29.0-rc.1, 1.2.3+ls45), or null: not a version. */
  version: string | null;
  flavour: string | null;
  prerelease: boolean;
}

export interface TagExplanation extends TagReading {
  /** Whether a run watches it. */
  kept: boolean;
  /** Whether it is newer than the current tag (same flavour and pre-release rules as newerOnly); null without a current version. */
  newer: boolean | null;
  /** 'kept', or why not: 'excluded by excludeTags /-rc/', 'older than 1.27.2', 'other flavour (#.#.#)', 'cut by maxTags (5)'… */
  reason: string;
}

export interface Explanation {
  current: Omit<TagReading, 'tag'> & { tag: string | null };
  /** Every listed tag once, in the image's sortTags order (so the kept ones appear as a run orders them). */
  tags: TagExplanation[];
  /** What a run would watch besides the image's own tag, in order. */
  selected: string[];
}

export function readTag(tag: string): TagReading {
  const v = parseTag(tag);
  return { tag, version: v === null ? null : versionText(v), flavour: v?.flavour ?? null, prerelease: v?.pre != null };
}

function reasonText(reason: DropReason, current: TagVersion | null, candidate: TagVersion | null): string {
  switch (reason.step) {
    case 'duplicate':
      return 'listed twice';
    case 'artifact':
      return 'artifact tag (signature, attestation or SBOM)';
    case 'notIncluded':
      return 'not matched by includeTags';
    case 'excluded':
      return `excluded by excludeTags /${reason.filter}/`;
    case 'own':
      return "the image's own tag (checked on its own)";
    case 'overMax':
      return `cut by maxTags (${reason.maxTags})`;
    case 'notNewer':
      switch (reason.why) {
        case 'other flavour':
          return `other flavour (${candidate?.flavour}, not ${current?.flavour})`;
        case 'older':
          return `older than ${current?.tag}`;
        case 'same version':
          return `same version as ${current?.tag}`;
        case 'pre-release':
          return 'pre-release (includePrereleases is off)';
        case 'not a version':
          return 'not a version';
      }
  }
}

export function explainTags(listed: readonly string[], opts: TagOptions): Explanation {
  const ownTag = opts.ref.tag ?? null;
  const current = ownTag === null ? null : parseTag(ownTag);
  const reasons = new Map<string, DropReason>();
  const selected = walkTags(listed, opts, (tag, reason) => {
    if (reason.step !== 'duplicate') reasons.set(tag, reason);
  });
  const kept = new Set(selected);
  const tags = sortTags([...new Set(listed)], opts.sortTags).map((tag): TagExplanation => {
    const v = parseTag(tag);
    const reason = reasons.get(tag);
    return {
      tag,
      version: v === null ? null : versionText(v),
      flavour: v?.flavour ?? null,
      prerelease: v?.pre != null,
      kept: kept.has(tag),
      newer: current === null ? null : whyNotNewer(v, current, opts) === null,
      reason: reason === undefined ? 'kept' : reasonText(reason, current, v),
    };
  });
  return { current: ownTag === null ? { tag: null, version: null, flavour: null, prerelease: false } : readTag(ownTag), tags, selected };
}
