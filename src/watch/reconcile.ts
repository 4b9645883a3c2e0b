/**
 * One check's result → what to store and what to tell. Pure: the time and the event id come in as
 * arguments, nothing is read or written here. The run collects these and commits them together.
 */
import { newEventId, type HeraldEvent } from '../model/event.js';
import { hubLink } from '../model/hublink.js';
import type { ImageState } from '../model/state.js';
import type { CheckOutcome } from './check.js';
import type { CheckItem } from './expand.js';

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
  const state = nextState(item, outcome, previous, at);
  const reconciled: Reconciled = {
    state,
    onlyCheckTime: previous !== undefined && onlyCheckTimeDiffers(previous, state),
    // A repository's first listing is not news: an expanded tag seen for the first time counts as
    // a first sighting unless it appeared after that listing.
    firstCheck: item.expanded !== undefined ? outcome.firstCheck && !item.expanded.appeared : outcome.firstCheck,
  };
  const event = eventFor(item, outcome, previous, at, newId);
  if (event !== undefined) reconciled.event = event;
  return reconciled;
}

function nextState({ image }: CheckItem, o: CheckOutcome, prev: ImageState | undefined, at: string): ImageState {
  if (o.status === 'error') {
    // Bookkeeping of the failure only: the digests stay as they were, so recovery is compared with
    // the last good state and a failure can never look like an update.
    return prev !== undefined
      ? { ...prev, lastChecked: at, error: o.error, errorSince: prev.errorSince ?? at }
      : {
          image: image.ref.name, platform: image.platform, digest: null, mediaType: null, platformDigest: null,
          created: null, labels: null, firstSeen: at, lastChecked: at, lastChanged: null, error: o.error, errorSince: at,
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
    a.errorSince === b.errorSince
  );
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
