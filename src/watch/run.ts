/**
 * One run: resolve the watched images (include files are re-read), expand watchRepo images into
 * their tags (expand.ts), check everything with a bounded pool, then write every new state, event
 * and delivery in one transaction.
 *
 * Results are committed once, at the end of the run: a crash mid-run leaves the previous state in
 * place, so the next run detects the same changes again. Nothing is lost, and nothing is half-stored.
 */
import type { Logger } from '../log.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveImages, type WatchedImage } from '../config/images.js';
import type { Store } from '../store/index.js';
import { stateKey, type ImageState } from '../store/state.js';
import { checkImage, errorOutcome, type CheckOutcome, type ManifestSource } from './check.js';
import { expandImages, repositoryWrites, type CheckItem, type DroppedTag, type TagLister } from './expand.js';
import { newEventId, type HeraldEvent } from './event.js';
import { mapPool } from './pool.js';
import { planDeliveries, type RoutedEvent } from '../notify/route.js';
import { hubLink } from '../registry/hublink.js';

export type ImageRunStatus = 'new' | 'update' | 'unchanged' | 'error' | 'skipped';

export interface ImageReport {
  image: string;
  platform: string;
  status: ImageRunStatus;
  digest: string | null;
  previousDigest: string | null;
  error: string | null;
}

export interface RunReport {
  startedAt: string;
  durationMs: number;
  images: ImageReport[];
  events: number;
  deliveries: { sent: number; pending: number; failed: number };
}

export interface RunContext {
  loaded: LoadedConfig;
  store: Store;
  client: ManifestSource & TagLister;
  logger: Logger;
}

export interface RunOptions {
  /** Only these images (normalized names); others are left alone. */
  only?: (image: WatchedImage) => boolean;
  /** Stops starting new checks (serve's shutdown); checks already running finish. */
  signal?: AbortSignal;
  now?: () => Date;
}

export interface RunResult {
  report: RunReport;
  events: HeraldEvent[];
}

export async function runOnce(ctx: RunContext, opts: RunOptions = {}): Promise<RunResult> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const t0 = performance.now();
  const { config } = ctx.loaded;
  const all = await resolveImages(ctx.loaded);
  const images = opts.only ? all.filter(opts.only) : all;

  const previous = ctx.store.state.map();
  const expansion = await expandImages(images, {
    lister: ctx.client,
    known: (repository) => ctx.store.repositories.get(repository),
    previous,
    all,
    concurrency: config.watch.workers,
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    logger: ctx.logger,
  });
  const { items } = expansion;
  const outcomes = await mapPool(
    items,
    config.watch.workers,
    async (item) => {
      const { image } = item;
      const prev = previous.get(stateKey(image.ref.name, image.platform));
      const outcome =
        item.failure !== undefined
          ? errorOutcome(item.failure, prev)
          : await checkImage(ctx.client, { ref: image.ref, platform: image.platform, detailsOnFirstCheck: wantsDetails(item, config.watch.firstCheckNotify) }, prev);
      logOutcome(ctx.logger, item, outcome);
      return outcome;
    },
    { signal: opts.signal, onSkip: () => undefined as CheckOutcome | undefined },
  );

  const detectedAt = now().toISOString();
  const states: ImageState[] = [];
  const routed: RoutedEvent[] = [];
  const reports: ImageReport[] = [];
  items.forEach((item, i) => {
    const { image } = item;
    const outcome = outcomes[i];
    const prev = previous.get(stateKey(image.ref.name, image.platform));
    if (outcome === undefined) {
      reports.push({ image: image.ref.name, platform: image.platform, status: 'skipped', digest: prev?.digest ?? null, previousDigest: prev?.digest ?? null, error: null });
      return;
    }
    reports.push({
      image: image.ref.name,
      platform: image.platform,
      status: outcome.status,
      digest: outcome.digest,
      previousDigest: outcome.previousDigest,
      error: outcome.error,
    });
    states.push(nextState(image, outcome, prev, detectedAt));
    const event = eventFor(item, outcome, prev, detectedAt);
    // An expanded tag's first sighting is notified only when the tag appeared after the repository's first listing.
    const firstCheck = item.expanded !== undefined ? outcome.firstCheck && !item.expanded.appeared : outcome.firstCheck;
    if (event !== undefined) routed.push({ event, image, firstCheck });
  });

  const deliveries = planDeliveries(routed, config.notifiers, config.watch.firstCheckNotify);
  const events = routed.map((r) => r.event);
  ctx.store.commitRun({
    states,
    events,
    deliveries,
    repositories: repositoryWrites(expansion, outcomes, detectedAt),
    removedStates: expansion.drops.map((d) => ({ image: d.image, platform: d.platform })),
  });
  for (const drop of expansion.drops) logDrop(ctx.logger, drop);

  const durationMs = Math.round(performance.now() - t0);
  const count = (s: ImageRunStatus) => reports.filter((r) => r.status === s).length;
  ctx.logger.info(
    {
      images: reports.length,
      new: count('new'),
      update: count('update'),
      unchanged: count('unchanged'),
      error: count('error'),
      skipped: count('skipped'),
      events: events.length,
      notifications: deliveries.length,
      durationMs,
    },
    `run finished: ${reports.length} images, ${count('new')} new, ${count('update')} updated, ${count('error')} failed in ${durationMs} ms`,
  );
  return {
    report: {
      startedAt: started.toISOString(),
      durationMs,
      images: reports,
      events: events.length,
      deliveries: { sent: 0, pending: 0, failed: 0 },
    },
    events,
  };
}

/** Fetch created/labels on a first sighting only when its `new` event will be notified. */
function wantsDetails(item: CheckItem, firstCheckNotify: boolean): boolean {
  if (!item.image.notifyOn.includes('new')) return false;
  return firstCheckNotify || item.expanded?.appeared === true;
}

function logDrop(logger: Logger, d: DroppedTag): void {
  const why = d.gone ? 'is gone from the repository' : `is no longer selected by the watchRepo options of ${d.owner}`;
  logger.info({ image: d.image, platform: d.platform, tag: d.tag, watchedBy: d.owner }, `dropped ${d.image} (${d.platform}): tag ${d.tag} ${why}`);
}

function logOutcome(logger: Logger, item: CheckItem, o: CheckOutcome): void {
  const { image } = item;
  const fields = { image: image.ref.name, platform: image.platform, digest: o.digest };
  switch (o.status) {
    case 'unchanged':
      logger.debug(fields, 'unchanged');
      break;
    case 'new':
      // A repository's first listing can bring hundreds of tags: their first sightings are debug lines.
      if (item.expanded !== undefined && !item.expanded.appeared) logger.debug(fields, 'first check');
      else logger.info(fields, o.firstCheck && item.expanded === undefined ? 'first check' : 'new');
      break;
    case 'update':
      logger.info({ ...fields, previousDigest: o.previousDigest }, 'update');
      break;
    case 'error':
      if (o.unexpected !== undefined) logger.error({ ...fields, err: o.unexpected }, `check failed (bug): ${o.error}`);
      else logger.warn({ image: image.ref.name, platform: image.platform }, `check failed: ${o.error}`);
      break;
  }
}

function nextState(image: WatchedImage, o: CheckOutcome, prev: ImageState | undefined, at: string): ImageState {
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

function eventFor(item: CheckItem, o: CheckOutcome, prev: ImageState | undefined, at: string): HeraldEvent | undefined {
  if (o.status === 'unchanged') return undefined;
  // An image that keeps failing raises one error event, when it starts failing.
  if (o.status === 'error' && prev?.error != null) return undefined;
  const { image } = item;
  const { ref } = image;
  const event: HeraldEvent = {
    id: newEventId(),
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
