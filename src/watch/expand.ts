/**
 * watchRepo expansion: the configured images → what one run checks.
 *
 * A plain image is one check. A watchRepo image is its own tag (checked like a plain image) plus one
 * check per tag that select.ts keeps from the repository's tag list. Each repository is listed once
 * per run, however many images watch it. A tag found this way is checked with its owner's settings
 * (platform, notifyOn, notifiers, metadata); its state is its own (tag reference, platform).
 *
 * What counts as a tag that *appeared*: a tag in this listing that was not in the repository's last
 * recorded listing. Only those have their `new` event notified; on a repository's first listing
 * every tag is a first sighting, notified only with watch.firstCheckNotify. A tag whose first check
 * fails (or is skipped by a shutdown) is not recorded, so it still counts as appeared next run.
 */
import type { WatchedImage } from '../model/image.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { parseReference, repositoryKey, withTag, type ImageReference } from '../model/reference.js';
import type { TagListing } from '../registry/tags.js';
import type { KnownRepository, RepositoryWrite } from '../store/repositories.js';
import { stateKey, type ImageState } from '../model/state.js';
import type { CheckOutcome } from './check.js';
import { mapPoolByKey } from './pool.js';
import { selectTags } from '../tags/select.js';

/** The part of RegistryClient expansion uses. */
export interface TagLister {
  listTags(ref: ImageReference): Promise<TagListing>;
}

export interface CheckItem {
  /** What is checked. For a tag found by watchRepo: the owner's settings with the tag's reference. */
  image: WatchedImage;
  /** The configured image this check comes from (the image itself unless expanded). */
  owner: WatchedImage;
  /** Set for a tag found by watchRepo (never for the image's own tag). */
  expanded?: {
    /** The tag appeared after the repository's first listing: its `new` event is notified. */
    appeared: boolean;
    /** With newerOnly: the owner's own tag, carried by the events as currentTag. */
    currentTag?: string;
  };
  /** Set when the check cannot run because listing the repository's tags failed. */
  failure?: string;
}

export interface DroppedTag {
  image: string;
  platform: string;
  tag: string;
  /** The configured image that watched it. */
  owner: string;
  /** True: no longer in the repository. False: still there but no longer selected (filters, maxTags, newerOnly). */
  gone: boolean;
}

interface Listed {
  repository: string;
  listing?: TagListing;
  error?: string;
  known?: KnownRepository;
}

export interface Expansion {
  items: CheckItem[];
  drops: DroppedTag[];
  /** Successful listings, one per repository. */
  listings: Listed[];
  /** watchRepo images (stateKey of the configured image): the first tag the selection kept, in the configured order. */
  newestTags: Map<string, string>;
}

export interface ExpandOptions {
  lister: TagLister;
  /** The repository's recorded listing (store.repositories.get). */
  known: (repository: string) => KnownRepository | undefined;
  /** State of every (image, platform) before this run, by stateKey. */
  previous: ReadonlyMap<string, ImageState>;
  /** Every configured image, when `images` is a subset (check --image): tags watched by the others are left alone. */
  all?: readonly WatchedImage[];
  concurrency: number | (() => number);
  /** Listings in flight per registry (default: no bound beyond `concurrency`). */
  limitOf?: (registry: string) => number;
  /**
   * Work to do beside a repository's listing, in the same slot of the pool: called with the
   * watchRepo images of that repository as its listing starts (the run sends each one's own HEAD
   * then, since it does not depend on the listing). The slot is freed when both are done; the
   * promise must not reject.
   */
  alongside?: (images: readonly WatchedImage[]) => Promise<unknown> | undefined;
  signal?: AbortSignal;
  logger: Logger;
}

export async function expandImages(images: readonly WatchedImage[], opts: ExpandOptions): Promise<Expansion> {
  const all = opts.all ?? images;
  // Configured images own their state keys: an expanded tag never takes one over.
  const claimed = new Set<string>();
  for (const i of all) claimed.add(stateKey(i.ref.name, i.platform));

  // One listing per repository, of the first watcher's reference. Each image's repository key is
  // kept by index, so it is built once per run, not once per loop over the images.
  const watchers = new Map<string, WatchedImage[]>();
  const repositoryOf = new Array<string | undefined>(images.length);
  for (let i = 0; i < images.length; i++) {
    const image = images[i]!;
    if (!image.watchRepo) continue;
    const repository = repositoryKey(image.ref);
    repositoryOf[i] = repository;
    const list = watchers.get(repository);
    if (list === undefined) watchers.set(repository, [image]);
    else list.push(image);
  }
  const listed = await mapPoolByKey(
    [...watchers.keys()],
    {
      concurrency: opts.concurrency,
      keyOf: (repository) => watchers.get(repository)![0]!.ref.registry,
      limitOf: opts.limitOf ?? (() => Infinity),
      signal: opts.signal,
      onSkip: (repository): Listed => ({ repository, error: 'not listed: the run was stopped' }),
    },
    (repository) => listRepository(repository, watchers.get(repository)!, opts),
  );
  const byRepo = new Map<string, Listed>();
  for (const l of listed) byRepo.set(l.repository, l);

  const items: CheckItem[] = [];
  const newestTags = new Map<string, string>();
  const failedGroups = new Set<string>();
  const debug = opts.logger.isLevelEnabled('debug');
  for (let i = 0; i < images.length; i++) {
    const image = images[i]!;
    const repository = repositoryOf[i];
    if (repository === undefined) {
      items.push({ image, owner: image });
      continue;
    }
    const result = byRepo.get(repository)!;
    if (result.listing === undefined) {
      failedGroups.add(groupKey(repository, image.platform));
      items.push({ image, owner: image, failure: `${image.ref.name}: cannot list the repository's tags: ${result.error}` });
      continue;
    }
    let kept: string[];
    try {
      const selection = selectTags(result.listing.tags, image);
      kept = selection.kept;
      if (debug) {
        opts.logger.debug(
          { image: image.ref.name, platform: image.platform, listed: result.listing.tags.length, kept: kept.length, dropped: selection.dropped },
          `watchRepo: ${kept.length} of ${result.listing.tags.length} tags kept`,
        );
      }
    } catch (err) {
      failedGroups.add(groupKey(repository, image.platform));
      items.push({ image, owner: image, failure: `${image.ref.name}: ${errorMessage(err)}` });
      continue;
    }
    items.push({ image, owner: image });
    if (kept.length > 0) expandKept(image, kept, result.known, claimed, items, newestTags);
  }

  return {
    items,
    drops: dropsOf(images, all, byRepo, failedGroups, claimed, opts.previous),
    listings: listed.filter((l) => l.listing !== undefined),
    newestTags,
  };
}

/** One repository's listing, with its watchers' own HEADs sent beside it (opts.alongside). */
async function listRepository(repository: string, watchers: readonly WatchedImage[], opts: ExpandOptions): Promise<Listed> {
  const beside = opts.alongside?.(watchers);
  let result: Listed;
  try {
    const listing = await opts.lister.listTags(watchers[0]!.ref);
    const known = opts.known(repository);
    result = known !== undefined ? { repository, listing, known } : { repository, listing };
  } catch (err) {
    result = { repository, error: errorMessage(err) };
  }
  if (beside !== undefined) await beside;
  return result;
}

/** The checks of the tags a watchRepo image's selection kept (a tag another image claimed first is left to it). */
function expandKept(
  image: WatchedImage,
  kept: readonly string[],
  known: KnownRepository | undefined,
  claimed: Set<string>,
  items: CheckItem[],
  newestTags: Map<string, string>,
): void {
  newestTags.set(stateKey(image.ref.name, image.platform), kept[0]!);
  for (const tag of kept) {
    const ref = withTag(image.ref, tag);
    const key = stateKey(ref.name, image.platform);
    if (claimed.has(key)) continue; // a configured image, or another watcher of the repository got it first
    claimed.add(key);
    const appeared = known !== undefined && !known.tags.has(tag);
    const expanded: NonNullable<CheckItem['expanded']> = { appeared };
    if (image.newerOnly && image.ref.tag !== undefined) expanded.currentTag = image.ref.tag;
    items.push({ image: { ...image, name: ref.name, ref }, owner: image, expanded });
  }
}

/** The key of one repository and platform: what a watchRepo image's drops are decided by. */
function groupKey(repository: string, platform: string): string {
  return `${repository}\u0000${platform}`;
}

/**
 * States of tags a watchRepo image no longer follows. Only where the whole picture is known: the
 * listing succeeded and was complete, and every configured watcher of that repository and platform
 * took part in this run.
 */
function dropsOf(
  images: readonly WatchedImage[],
  all: readonly WatchedImage[],
  byRepo: ReadonlyMap<string, Listed>,
  failedGroups: ReadonlySet<string>,
  claimed: ReadonlySet<string>,
  previous: ReadonlyMap<string, ImageState>,
): DroppedTag[] {
  // A state this run checks (claimed) is never dropped. Usually every state is one, and then there
  // is nothing to work out: no stored name parsed, no watcher grouped, no key built (previous is
  // keyed by stateKey already).
  const candidates: ImageState[] = [];
  previous.forEach((state, key) => {
    if (!claimed.has(key)) candidates.push(state);
  });
  if (candidates.length === 0) return [];

  const running = new Set(images);
  const owners = new Map<string, WatchedImage>();
  const incomplete = new Set<string>();
  for (const image of all) {
    if (!image.watchRepo) continue;
    const repository = repositoryKey(image.ref);
    const group = groupKey(repository, image.platform);
    if (!owners.has(group)) owners.set(group, image);
    if (!running.has(image) || failedGroups.has(group) || byRepo.get(repository)?.listing?.complete !== true) incomplete.add(group);
  }
  const listedTags = new Map<string, Set<string>>();
  const drops: DroppedTag[] = [];
  for (const state of candidates) {
    let ref: ImageReference;
    try {
      ref = parseReference(state.image);
    } catch {
      continue;
    }
    if (ref.tag === undefined || ref.digest !== undefined) continue;
    const repository = repositoryKey(ref);
    const group = groupKey(repository, state.platform);
    const owner = owners.get(group);
    if (owner === undefined || incomplete.has(group)) continue;
    let tags = listedTags.get(repository);
    if (tags === undefined) {
      tags = new Set(byRepo.get(repository)!.listing!.tags);
      listedTags.set(repository, tags);
    }
    drops.push({ image: state.image, platform: state.platform, tag: ref.tag, owner: owner.ref.name, gone: !tags.has(ref.tag) });
  }
  return drops;
}

/** Whether a stored state is a tag that a watchRepo image among `images` may follow (for prune). */
export function followedByWatchRepo(state: Pick<ImageState, 'image' | 'platform'>, images: readonly WatchedImage[]): boolean {
  let ref: ImageReference;
  try {
    ref = parseReference(state.image);
  } catch {
    return false;
  }
  if (ref.tag === undefined || ref.digest !== undefined) return false;
  const repository = repositoryKey(ref);
  return images.some((i) => i.watchRepo && i.platform === state.platform && repositoryKey(i.ref) === repository);
}

/**
 * What to record of each listing after the checks ran: tags to remember and tags to forget. A tag
 * that appeared but whose check failed or was skipped is not remembered yet, so the next run still
 * treats it as appeared and notifies it once it can be checked.
 */
export function repositoryWrites(expansion: Expansion, outcomes: ReadonlyArray<CheckOutcome | undefined>, at: string): RepositoryWrite[] {
  const unresolved = new Map<string, Set<string>>();
  expansion.items.forEach((item, i) => {
    if (item.expanded?.appeared !== true) return;
    const outcome = outcomes[i];
    if (outcome !== undefined && outcome.status !== 'error') return;
    const repository = repositoryKey(item.image.ref);
    const set = unresolved.get(repository) ?? new Set<string>();
    set.add(item.image.ref.tag!);
    unresolved.set(repository, set);
  });
  return expansion.listings.map(({ repository, listing, known }) => {
    const tags = listing!.tags;
    if (known === undefined) return { repository, at, added: [...tags], removed: [] };
    const skip = unresolved.get(repository);
    const added: string[] = [];
    for (const t of tags) if (!known.tags.has(t) && !(skip?.has(t) ?? false)) added.push(t);
    return { repository, at, added, removed: listing!.complete ? forgotten(known.tags, tags) : [] };
  });
}

/** The known tags a complete listing no longer has, in the known order. */
function forgotten(known: ReadonlySet<string>, listed: readonly string[]): string[] {
  const removed: string[] = [];
  if (known.size === 0) return removed;
  const now = new Set(listed);
  for (const t of known) if (!now.has(t)) removed.push(t);
  return removed;
}
