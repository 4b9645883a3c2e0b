/**
 * Versions in container tags, and which tag is newer.
 *
 * A tag is read as   prefix + numeric core + rest:
 *   prefix  ''  'v'  'version-'  'amd64-'  'release-v'   (empty, a 'v', or ending in - _ . with an optional v)
 *   core    1 to 4 dot-separated numbers: 16, 1.27, 22.11.0, 2024.10.1, 1.2.3.4; or a date with dashes,
 *           2024-10-01, with an optional time as MinIO writes it (2024-10-02T17-50-41Z)
 *   rest    an optional pre-release (`rc1`, `-rc.1`, `-beta.2`, `-alpha`, python's `a1`/`b2` glued on),
 *           a suffix (`-alpine`, `-bookworm-slim`, `-jdk17`), and an optional build counter at the
 *           end (`-ls45`, `-r3`, a bare `-2` right after the version, temurin's glued-on `_11`).
 * The *flavour* is everything but the numbers and the pre-release: prefix, number of parts, suffix
 * and the kind of build counter, e.g. `#.#.#-alpine`, `amd64-#.#.#-ls#`, `v#.#.#`. Versions are
 * compared within a flavour; `1.28.0` is not an upgrade of `1.27.2-alpine`.
 *
 * Tags without such a core (`latest`, `mainline-alpine`, `lts-alpine`, `alpine3.20`) are not versions:
 * parseTag returns null, it never throws.
 *
 * The `semver` package decides the order of pre-releases (its identifier rules: numeric identifiers
 * by value, others by ASCII, fewer identifiers first). The numeric core is compared here, digit
 * string by digit string, because semver only parses exactly three parts and rejects leading zeros
 * (`2024.01.05`) and numbers past 2^53. For tags that are valid semver, the order agrees with
 * semver.compare (see test/unit/tags/versions.test.ts).
 */
import type { SemVer } from 'semver';
import { isValidTag } from '../model/reference.js';
import { lazy } from '../util/lazy.js';
import { splitCounters } from './counters.js';

// semver is loaded on the first pre-release comparison, not at import: config loading imports this
// module (to check newerOnly tags) and most runs never compare a pre-release.
const semver = lazy<typeof import('semver')>('semver');
import { UserError } from '../util/errors.js';

export interface TagVersion {
  tag: string;
  prefix: string;
  /** Digit strings, 1 to 4 of them (3 or 6 for a date, see parseDated), as written (leading zeros kept). */
  core: string[];
  /** Pre-release as semver identifiers ('rc.1', 'beta.2', 'a.1'), or null for a release. */
  pre: string | null;
  /** Suffix without the pre-release and the build counter: '-alpine', '-bookworm-slim', ''. */
  suffix: string;
  /** PEP 440 post-release number ('1' for 1.0.0.post1), or null. Newer than the release, same flavour. */
  post: string | null;
  /**
   * Build counters, dot-joined digit strings ('45' for -ls45, '177' for git describe's -177-gabc1234,
   * '923.1669829893' for UBI's 8.7-923.1669829893, '20251111' for 4.8.1-20251111-windowsservercore), or null.
   */
  build: string | null;
  /** How the last build counter is written: 'ls', 'r', '' (a bare number) or '_' (glued on with _). */
  buildKind: string;
  /** prefix, parts, suffix and build kind: tags of one flavour are comparable. */
  flavour: string;
}

/** A tag that had to be a version and is not (typed, so callers can tell it from a bug). */
export class VersionError extends UserError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'VersionError';
  }
}

const CORE = /\d+(?:\.\d+)*/g;
const PREFIX = /^(?:[vV]|.*[-_.][vV]?)?$/;
const PRE_WORDS = 'preview|alpha|beta|rc|pre|dev|snapshot|canary|nightly|unstable|ea';
/** A pre-release as its own dash component: rc1, rc.1, beta.2, alpha, alpha.beta, RC2. */
const PRE_COMPONENT = new RegExp(`^(${PRE_WORDS})(?:\\.?(\\d+))?((?:\\.[0-9a-zA-Z]+)*)$`, 'i');
/** A pre-release glued to the core (python: 3.14.0a1, 3.13.0rc2, 1.0beta): a/b need a number. */
const PRE_ATTACHED = new RegExp(`^(?:(${PRE_WORDS})(\\d+)?|([ab])(\\d+))(?=$|[-_.])`, 'i');
/** PEP 440's development and post releases, glued on or after a dot: 1.0.0.dev0, 2.1.0.POST2. */
const PEP440 = /^\.?(dev|post)(\d+)(?=$|[-_.])/i;

const MAX_PARTS = 4;

/**
 * Tags parsed so far, by text: a run parses the same tags as the last (and config loading parses the
 * own tags a run parses again). The results are shared: a TagVersion is never changed.
 */
const tagCache = new Map<string, TagVersion | null>();

export function parseTag(tag: string): TagVersion | null {
  if (typeof tag !== 'string') return null;
  let v = tagCache.get(tag);
  if (v === undefined) {
    v = readTag(tag);
    if (tagCache.size >= 10_000) tagCache.clear();
    tagCache.set(tag, v);
  }
  return v;
}

function readTag(tag: string): TagVersion | null {
  if (!isValidTag(tag)) return null;
  const dated = parseDated(tag);
  if (dated !== null) return dated;
  CORE.lastIndex = 0;
  for (let m = CORE.exec(tag); m !== null; m = CORE.exec(tag)) {
    const prefix = tag.slice(0, m.index);
    if (!PREFIX.test(prefix)) continue;
    const core = m[0].split('.');
    if (core.length > MAX_PARTS) continue;
    const parsed = parseRest(tag, prefix, core, tag.slice(m.index + m[0].length));
    if (parsed !== null) return parsed;
  }
  return null;
}

/**
 * A calendar date written with dashes as the core: `2024-10-01`, `noble-2024-10-11`, and MinIO's
 * `RELEASE.2024-10-02T17-50-41Z` (date and time, six numbers). Read as numbers, 2024-10-01 would be
 * the version 2024 with a suffix `-10-01`, so every date would be a flavour of its own and no date
 * would ever be newer than another. Only a real date (month 1-12, day 1-31) after a prefix without
 * digits counts; `1.2.3-2024-10-01` stays the version 1.2.3 with a dated suffix.
 */
const DATE_CORE = /(?<!\d)(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})-(\d{2})-(\d{2})(Z?))?(?!\d)/g;

function parseDated(tag: string): TagVersion | null {
  DATE_CORE.lastIndex = 0;
  for (let m = DATE_CORE.exec(tag); m !== null; m = DATE_CORE.exec(tag)) {
    const prefix = tag.slice(0, m.index);
    if (/\d/.test(prefix) || !PREFIX.test(prefix)) continue;
    const [, year, month, day, hour, minute, second, zulu] = m;
    if (!inRange(month!, 1, 12) || !inRange(day!, 1, 31)) continue;
    const timed = hour !== undefined;
    if (timed && (!inRange(hour, 0, 23) || !inRange(minute!, 0, 59) || !inRange(second!, 0, 60))) continue;
    const core = timed ? [year!, month!, day!, hour, minute!, second!] : [year!, month!, day!];
    const numbers = timed ? `#-#-#T#-#-#${zulu ?? ''}` : '#-#-#';
    const parsed = parseRest(tag, prefix, core, tag.slice(m.index + m[0].length), numbers);
    if (parsed !== null) return parsed;
  }
  return null;
}

function inRange(digits: string, min: number, max: number): boolean {
  const n = Number(digits);
  return n >= min && n <= max;
}

/** parseTag for a tag that must be a version (the configured tag of a newerOnly image). */
export function parseVersion(tag: string): TagVersion {
  const v = parseTag(tag);
  if (v === null) throw new VersionError(`"${tag.length > 60 ? `${tag.slice(0, 60)}…` : tag}" is not a version tag (like 1.27.2, v3.2.1 or 17.2-bookworm)`);
  return v;
}

function parseRest(tag: string, prefix: string, core: string[], rest: string, numbers = core.map(() => '#').join('.')): TagVersion | null {
  let pre: string | null = null;
  let post: string | null = null;
  const counters: string[] = [];
  let buildKind = '';

  const glued = /^_(\d+)(?=$|[-.])/.exec(rest);
  if (glued) {
    counters.push(glued[1]!);
    buildKind = '_';
    rest = rest.slice(glued[0].length);
  } else {
    const attached = PRE_ATTACHED.exec(rest);
    if (attached) {
      pre = normalizePre(attached[1] ?? attached[3]!, attached[2] ?? attached[4], '');
      rest = rest.slice(attached[0].length);
    }
  }
  // PEP 440: 1.0.0.dev0 is a pre-release, 1.0.0.post1 a post-release (newer than 1.0.0, same flavour).
  const pep = PEP440.exec(rest);
  if (pep && (pep[1]!.toLowerCase() === 'post' || pre === null)) {
    if (pep[1]!.toLowerCase() === 'post') post = stripZeros(pep[2]!);
    else pre = normalizePre(pep[1]!, pep[2], '');
    rest = rest.slice(pep[0].length);
  }
  // After the core: nothing, or a separator. 1.2.3.4.5 (five parts) and 1.2.3alpine are not versions.
  if (rest !== '' && !/^(?:-|_|\.(?!\d))/.test(rest)) return null;

  let suffix = rest;
  let shape = rest;
  if (rest.startsWith('-')) {
    const parts = rest.slice(1).split('-');
    if (pre === null && parts.length > 0) {
      const m = PRE_COMPONENT.exec(parts[0]!);
      if (m) {
        parts.shift();
        // openjdk's 21-ea-32: the number after a bare pre-release word is its number.
        const n = m[2] === undefined && m[3] === '' && parts.length > 0 && /^\d+$/.test(parts[0]!) ? parts.shift() : m[2];
        pre = normalizePre(m[1]!, n, m[3]!);
      }
    }
    const split = splitCounters(parts, counters.length > 0);
    if (split.kind !== undefined) buildKind = split.kind;
    counters.push(...split.counters);
    suffix = split.words.length > 0 ? `-${split.words.join('-')}` : '';
    shape = split.shape.length > 0 ? `-${split.shape.join('-')}` : '';
    if (split.kind !== undefined) shape += `-${split.kind}#`;
  }
  if (pre !== null && preSemver(pre) === null) return null;

  const build = counters.length > 0 ? counters.join('.') : null;
  const flavour = buildKind === '_' ? `${prefix}${numbers}_#${shape}` : `${prefix}${numbers}${shape}`;
  return { tag, prefix, core, pre, post, suffix, build, buildKind, flavour };
}

function normalizePre(word: string, number: string | undefined, dotted: string): string {
  const ids = [word.toLowerCase()];
  if (number !== undefined) ids.push(stripZeros(number));
  for (const id of dotted.split('.').slice(1)) ids.push(/^\d+$/.test(id) ? stripZeros(id) : id.toLowerCase());
  return ids.join('.');
}

const preCache = new Map<string, SemVer | null>();

/** The pre-release as a semver version 0.0.0-<pre>, so semver's comparePre orders it. */
function preSemver(pre: string): SemVer | null {
  let v = preCache.get(pre);
  if (v === undefined) {
    try {
      v = new (semver().SemVer)(`0.0.0-${pre}`);
    } catch {
      v = null;
    }
    if (preCache.size > 10_000) preCache.clear();
    preCache.set(pre, v);
  }
  return v;
}

function stripZeros(digits: string): string {
  const s = digits.replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/** Compares two digit strings by value, whatever their length. */
function compareDigits(a: string, b: string): number {
  const x = stripZeros(a);
  const y = stripZeros(b);
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Dotted digit strings by value, part by part; a missing part sorts first (0.3 < 0.3.1). */
function compareDotted(a: string, b: string): number {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = compareDigits(x[i]!, y[i]!);
    if (c !== 0) return c;
  }
  return sign(x.length - y.length);
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/**
 * Version order, ascending: numbers (missing parts count as 0), then a release above its
 * pre-releases, then the build counter (none below any), then fewer parts first (1.2 < 1.2.0).
 * 0 means "the same version" even when the tags differ (v1.2 and 1.2, 1.02 and 1.2).
 */
export function compareVersions(a: TagVersion, b: TagVersion): number {
  const n = Math.max(a.core.length, b.core.length);
  for (let i = 0; i < n; i++) {
    const c = compareDigits(a.core[i] ?? '0', b.core[i] ?? '0');
    if (c !== 0) return c;
  }
  if (a.pre !== b.pre) {
    if (a.pre === null) return 1;
    if (b.pre === null) return -1;
    const c = sign(preSemver(a.pre)!.comparePre(preSemver(b.pre)!));
    if (c !== 0) return c;
  }
  if (a.post !== b.post) {
    if (a.post === null) return -1;
    if (b.post === null) return 1;
    const c = compareDigits(a.post, b.post);
    if (c !== 0) return c;
  }
  if (a.build !== b.build) {
    if (a.build === null) return -1;
    if (b.build === null) return 1;
    const c = compareDotted(a.build, b.build);
    if (c !== 0) return c;
  }
  return sign(a.core.length - b.core.length);
}

/** A total order on versions: compareVersions, then the tag text, so no two tags compare equal. */
export function compareVersionTags(a: TagVersion, b: TagVersion): number {
  return compareVersions(a, b) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
}

export interface NewerOptions {
  /** Require the same prefix, suffix, number of parts and build kind as the current tag (default). */
  sameFlavour: boolean;
  /** Accept pre-releases even when the current tag is a release. */
  includePrereleases: boolean;
}

/** Why a tag is not newer than the current one, as `herald tags` says it. */
export type NotNewer = 'not a version' | 'other flavour' | 'pre-release' | 'older' | 'same version';

/** null when `candidate` is a newer version than `current` under the flavour and pre-release rules, else why not. */
export function whyNotNewer(candidate: TagVersion | null, current: TagVersion, opts: NewerOptions): NotNewer | null {
  if (candidate === null) return 'not a version';
  if (opts.sameFlavour && candidate.flavour !== current.flavour) return 'other flavour';
  const c = compareVersions(candidate, current);
  if (c > 0 && candidate.pre !== null && current.pre === null && !opts.includePrereleases) return 'pre-release';
  return c > 0 ? null : c < 0 ? 'older' : 'same version';
}

/** Whether `candidate` is a newer version than `current` under the flavour and pre-release rules. */
export function isNewer(candidate: TagVersion | null, current: TagVersion, opts: NewerOptions): boolean {
  return whyNotNewer(candidate, current, opts) === null;
}

/** The version as herald reads it, for people: 1.27.2, 1.29.0-rc.1, 1.2.3+ls45, 1.0.0.post1. */
export function versionText(v: TagVersion): string {
  return `${v.core.join('.')}${v.pre === null ? '' : `-${v.pre}`}${v.post === null ? '' : `.post${v.post}`}${v.build === null ? '' : `+${v.build}`}`;
}

/** Versions newest first (equal versions by tag text, ascending), then every non-version tag in the order given. */
export function sortSemverDescending(tags: readonly string[]): string[] {
  const versions: TagVersion[] = [];
  const others: string[] = [];
  for (const tag of tags) {
    const v = parseTag(tag);
    if (v === null) others.push(tag);
    else versions.push(v);
  }
  // As Diun's sortTags: semver: equal versions with more parts first (4.21.0, 4.21), then by tag text ascending.
  versions.sort((a, b) => compareVersions(b, a) || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  return [...versions.map((v) => v.tag), ...others];
}
