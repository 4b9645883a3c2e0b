/**
 * One check's result → what to store and what to tell. Pure: the time and the event id come in as
 * arguments, nothing is read or written here. The run collects these and commits them together.
 */
import { newEventId, type HeraldEvent } from '../model/event.js';
import { hubLink } from '../model/hublink.js';
import type { ImageState } from '../model/state.js';
import type { CheckOutcome } from './check.js';
import type { CheckItem } from './expand.js';
import { containerReports, runsBehind, type RunningContainer } from '../model/container.js';
import { FILE_SOURCE } from '../sources/source.js';

export interface Reconciled {
  /** The (image, platform)'s state after this check. */
  state: ImageState;
  /**
   * Nothing but lastChecked differs from the previous state: the store can update the check time
   * alone instead of writing the whole row (most checks of most runs).
   */
  onlyCheckTime: boolean;
  /** What happened to the image, if anything did. */
  event?: HeraldEvent;
  /** The event is a first sighting in the sense of watch.firstCheckNotify (it is only notified with it). */
  firstCheck: boolean;
}

/**
 * `at` is the run's detection time (ISO 8601); `newId` makes the event id (a random UUID unless a
 * test wants a fixed one).
 */
export function reconcile(item: CheckItem, outcome: CheckOutcome, previous: ImageState | undefined, at: string, newId: () => string = newEventId): Reconciled {
  const running = runningContainers(item);
  const outdated = running.length > 0 ? outdatedNews(item, outcome, previous, running) : undefined;
  const state = nextState(item, outcome, previous, at);
  if (outdated?.report) state.outdatedDigest = outcome.digest;
  const reconciled: Reconciled = {
    state,
    onlyCheckTime: previous !== undefined && onlyCheckTimeDiffers(previous, state),
    // A repository's first listing is not news: an expanded tag seen for the first time counts as
    // a first sighting unless it appeared after that listing.
    firstCheck: item.expanded !== undefined ? outcome.firstCheck && !item.expanded.appeared : outcome.firstCheck,
  };
  const event = outdated === undefined ? eventFor(item, outcome, previous, at, newId) : outdatedEvent(item, outcome, previous, at, newId, running, outdated);
  if (event !== undefined) reconciled.event = event;
  return reconciled;
}

/**
 * The containers an engine or cluster source found running this very tag (a tag found by watchRepo
 * runs in none of them), when at least one of them reports the digest it runs.
 */
function runningContainers(item: CheckItem): readonly RunningContainer[] {
  if (item.expanded !== undefined) return NONE;
  const { containers } = item.image;
  return containers !== undefined && containers.some((c) => c.runningDigest !== null) ? containers : NONE;
}

/** No containers: one shared empty list (most images run in none). */
const NONE: readonly RunningContainer[] = [];

interface OutdatedNews {
  /** Report the containers that run behind now (an `update`), and remember the digest reported. */
  report: boolean;
  /** The image is watched for the config too: a moved tag is news even when no container is behind. */
  alsoConfigured: boolean;
}

/**
 * For an image that containers run, `update` means "the registry has a digest a running container is
 * behind, not reported yet": once per registry digest, on the first check too. A container
 * recreated on the current digest is quietly up to date again.
 */
function outdatedNews(item: CheckItem, o: CheckOutcome, prev: ImageState | undefined, running: readonly RunningContainer[]): OutdatedNews {
  const alsoConfigured = (item.image.sources ?? [FILE_SOURCE]).includes(FILE_SOURCE);
  if (o.status === 'error') return { report: false, alsoConfigured };
  const behind = running.some((c) => runsBehind(c, o.digest, o.platformDigest));
  return { report: behind && prev?.outdatedDigest !== o.digest, alsoConfigured };
}

function outdatedEvent(
  item: CheckItem, o: CheckOutcome, prev: ImageState | undefined, at: string, newId: () => string,
  running: readonly RunningContainer[], news: OutdatedNews,
): HeraldEvent | undefined {
  const containers = containerReports(item.image.containers ?? running, o.digest, o.platformDigest);
  if (news.report) {
    const event = eventFor(item, { ...o, status: 'update' }, prev, at, newId)!;
    event.runningDigest = containers.find((c) => c.outdated)?.runningDigest ?? null;
    event.containers = containers;
    return event;
  }
  // No container behind (or already reported): a first sighting is still `new`, a failure still
  // `error`; a moved tag whose containers already run it is news only to a config image.
  if (o.status === 'update' && !news.alsoConfigured) return undefined;
  const event = eventFor(item, o, prev, at, newId);
  if (event !== undefined) {
    event.runningDigest = running.find((c) => c.runningDigest !== null)?.runningDigest ?? null;
    event.containers = containers;
  }
  return event;
}

function nextState(item: CheckItem, o: CheckOutcome, prev: ImageState | undefined, at: string): ImageState {
  const { image } = item;
  if (o.status === 'error') {
    // Bookkeeping of the failure only: the digests stay as they were, so recovery is compared with
    // the last good state and a failure can never look like an update.
    return prev !== undefined
      ? { ...prev, lastChecked: at, error: o.error, errorSince: prev.errorSince ?? at, sources: item.owner.sources ?? [FILE_SOURCE] }
      : {
          image: image.ref.name, platform: image.platform, digest: null, mediaType: null, platformDigest: null,
          created: null, labels: null, firstSeen: at, lastChecked: at, lastChanged: null, error: o.error, errorSince: at, outdatedDigest: null,
          sources: item.owner.sources ?? [FILE_SOURCE],
        };
  }
  const changed = o.status === 'new' || o.status === 'update';
  return {
    image: image.ref.name,
    platform: image.platform,
    digest: o.digest,
    mediaType: o.mediaType,
    platformDigest: o.platformDigest,
    created: o.created,
    labels: o.status === 'unchanged' ? prev?.labels ?? null : o.labels,
    firstSeen: prev?.firstSeen ?? at,
    outdatedDigest: prev?.outdatedDigest ?? null,
    sources: item.owner.sources ?? [FILE_SOURCE],
    lastChecked: at,
    lastChanged: changed ? at : prev?.lastChanged ?? null,
    error: null,
    errorSince: null,
  };
}

function onlyCheckTimeDiffers(a: ImageState, b: ImageState): boolean {
  return (
    a.digest === b.digest && a.mediaType === b.mediaType && a.platformDigest === b.platformDigest && a.created === b.created &&
    a.labels === b.labels && a.firstSeen === b.firstSeen && a.lastChanged === b.lastChanged && a.error === b.error &&
    a.errorSince === b.errorSince && (a.outdatedDigest ?? null) === (b.outdatedDigest ?? null) &&
    sameSources(a.sources, b.sources)
  );
}

/** Whether two source lists are stored the same (joined with commas); equal lists need no join. */
function sameSources(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a !== undefined && b !== undefined && a.length === b.length) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    if (i === a.length) return true;
  }
  return (a ?? []).join(',') === (b ?? []).join(',');
}

function eventFor(item: CheckItem, o: CheckOutcome, prev: ImageState | undefined, at: string, newId: () => string): HeraldEvent | undefined {
  if (o.status === 'unchanged') return undefined;
  // An image that keeps failing raises one error event, when it starts failing.
  if (o.status === 'error' && prev?.error != null) return undefined;
  const { image } = item;
  const { ref } = image;
  const event: HeraldEvent = {
    id: newId(),
    status: o.status,
    image: ref.name,
    registry: ref.registry,
    repository: ref.repository,
    tag: ref.tag ?? null,
    digest: o.digest,
    previousDigest: o.status === 'update' ? o.previousDigest : null,
    platform: image.platform,
    platformDigest: o.platformDigest,
    previousPlatformDigest: o.status === 'update' ? o.previousPlatformDigest : null,
    mediaType: o.mediaType,
    created: o.created,
    labels: o.labels,
    hubLink: image.hubLink ?? hubLink(ref) ?? null,
    metadata: image.metadata,
    detectedAt: at,
    error: o.error,
  };
  if (item.expanded?.currentTag !== undefined) event.currentTag = item.expanded.currentTag;
  return event;
}
