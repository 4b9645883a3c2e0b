/**
 * One run: resolve the watched images (include files are re-read), expand watchRepo images into
 * their tags (expand.ts), check everything with a bounded pool, then write every new state, event
 * and delivery in one transaction.
 *
 * Results are committed once, at the end of the run: a crash mid-run leaves the previous state in
 * place, so the next run detects the same changes again. Nothing is lost, and nothing is half-stored.
 */
import type { Logger } from '../util/log.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveImages } from '../config/images.js';
import type { WatchedImage } from '../model/image.js';
import type { Store } from '../store/index.js';
import { stateKey, type ImageState } from '../model/state.js';
import { checkImage, errorOutcome, type CheckOutcome, type ManifestSource } from './check.js';
import { expandImages, repositoryWrites, type CheckItem, type DroppedTag, type TagLister } from './expand.js';
import { newEventId, type HeraldEvent } from '../model/event.js';
import { mapPoolByKey } from './pool.js';
import { RunBudget, type RateLimitSource } from './budget.js';
import { planDeliveries, type RoutedEvent } from '../notify/route.js';
import { hubLink } from '../model/hublink.js';
import { normalizeEntryHost } from '../registry/auth.js';
import type { ImageReference } from '../model/reference.js';
import { RegistryError } from '../util/errors.js';
import type { Config } from '../config/schema.js';

/** Checks in flight per registry unless its entry sets `concurrency` (and never more than watch.workers). */
export const DEFAULT_REGISTRY_CONCURRENCY = 16;

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

/** Optional client abilities a run uses when present (RegistryClient has them; test doubles may not). */
export interface RunClientExtras extends RateLimitSource {
  /** Pings and tokens for these images in a few requests, before the checks start. */
  prepare?(refs: readonly ImageReference[]): Promise<unknown>;
}

export interface RunContext {
  loaded: LoadedConfig;
  store: Store;
  client: ManifestSource & TagLister & RunClientExtras;
  logger: Logger;
}

export interface RunOptions {
  /** Only these images (normalized names); others are left alone. */
  only?: (image: WatchedImage) => boolean;
  /**
   * Only the checks (after watchRepo expansion) whose normalized name passes: the others are not
   * checked, reported or stored, their appeared tags stay unrecorded (so a later run still notifies
   * them) and their states are never dropped.
   */
  onlyItem?: (name: string) => boolean;
  /** The config's images when the caller has resolved them already (check --image reads them to choose); else read here. */
  resolved?: WatchedImage[];
  /** Stops starting new checks (serve's shutdown); checks already running finish. */
  signal?: AbortSignal;
  now?: () => Date;
}

/** Where a run's time went, in ms (the benchmark prints these; SQLite work is stateLoad + commit). */
export interface RunTimings {
  stateLoadMs: number;
  prepareMs: number;
  checksMs: number;
  commitMs: number;
  totalMs: number;
}

export interface RunResult {
  report: RunReport;
  events: HeraldEvent[];
  timings: RunTimings;
  /** Failures (unlisted repository, bad tag selection) of watchRepo images whose checks onlyItem left out. */
  omittedFailures: string[];
}

export async function runOnce(ctx: RunContext, opts: RunOptions = {}): Promise<RunResult> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const startedMs = started.getTime();
  const t0 = performance.now();
  const { config } = ctx.loaded;
  const all = opts.resolved ?? (await resolveImages(ctx.loaded));
  const images = opts.only ? all.filter(opts.only) : all;

  const tLoad = performance.now();
  const previous = ctx.store.state.map();
  const stateLoadMs = performance.now() - tLoad;

  // One ping per registry and a few many-scope token requests, instead of a token per repository
  // fetched by whichever check comes first. A warm `serve` has them all cached and sends nothing.
  const tPrepare = performance.now();
  if (ctx.client.prepare !== undefined && images.length > 0) await ctx.client.prepare(images.map((i) => i.ref));
  const prepareMs = performance.now() - tPrepare;

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
  const inRun = (item: CheckItem) => opts.onlyItem === undefined || opts.onlyItem(item.image.ref.name);
  const budget = new RunBudget(ctx.client, items.filter((i) => inRun(i) && i.failure === undefined).map((i) => i.image.ref.registry), ctx.logger, startedMs, () => now().getTime());
  const source = budgeted(ctx.client, budget);
  // Least recently checked first (never checked before all): what a rate limit deferred goes first next time.
  const lastChecked = (item: CheckItem) => previous.get(stateKey(item.image.ref.name, item.image.platform))?.lastChecked ?? '';
  const order = items.map((_, i) => i).filter((i) => inRun(items[i]!)).sort((a, b) => compare(lastChecked(items[a]!), lastChecked(items[b]!)));
  const limitOf = registryLimits(config);

  const tChecks = performance.now();
  const ordered = await mapPoolByKey(
    order,
    {
      concurrency: config.watch.workers,
      keyOf: (i) => items[i]!.image.ref.registry,
      limitOf,
      signal: opts.signal,
      onSkip: () => undefined as CheckOutcome | undefined,
    },
    async (i) => {
      const item = items[i]!;
      const { image } = item;
      const prev = previous.get(stateKey(image.ref.name, image.platform));
      if (item.failure !== undefined) {
        const failed = errorOutcome(item.failure, prev);
        logOutcome(ctx.logger, item, failed);
        return failed;
      }
      if (!budget.admit(image.ref.registry)) return undefined;
      const outcome = await checkImage(source, { ref: image.ref, platform: image.platform, detailsOnFirstCheck: wantsDetails(item, config.watch.firstCheckNotify) }, prev);
      budget.finished(image.ref.registry);
      if (outcome.rateLimited) {
        // A rate limit is not the image's failure: no error event, no state change; next run tries again.
        budget.deferredAfterStart(image.ref.registry);
        return undefined;
      }
      logOutcome(ctx.logger, item, outcome);
      return outcome;
    },
  );
  const outcomes = new Array<CheckOutcome | undefined>(items.length);
  order.forEach((itemIndex, k) => {
    outcomes[itemIndex] = ordered[k];
  });
  const checksMs = performance.now() - tChecks;

  const detectedAt = now().toISOString();
  const states: ImageState[] = [];
  // Unchanged images whose stored row only needs the new check time: one UPDATE for all of them.
  const checked: Array<[string, string]> = [];
  const routed: RoutedEvent[] = [];
  const reports: ImageReport[] = [];
  items.forEach((item, i) => {
    if (!inRun(item)) return;
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
    const next = nextState(image, outcome, prev, detectedAt);
    if (prev !== undefined && onlyCheckTimeDiffers(prev, next)) checked.push([next.image, next.platform]);
    else states.push(next);
    const event = eventFor(item, outcome, prev, detectedAt);
    // An expanded tag's first sighting is notified only when the tag appeared after the repository's first listing.
    const firstCheck = item.expanded !== undefined ? outcome.firstCheck && !item.expanded.appeared : outcome.firstCheck;
    if (event !== undefined) routed.push({ event, image, firstCheck });
  });

  // A partial run drops only states it was asked about. (Left-out items have no outcome, so
  // repositoryWrites already keeps their appeared tags unrecorded.)
  const drops = opts.onlyItem === undefined ? expansion.drops : expansion.drops.filter((d) => opts.onlyItem!(d.image));
  const deliveries = planDeliveries(routed, config.notifiers, config.watch.firstCheckNotify);
  const events = routed.map((r) => r.event);
  const tCommit = performance.now();
  ctx.store.commitRun({
    states,
    checked: { at: detectedAt, keys: checked },
    events,
    deliveries,
    repositories: repositoryWrites(expansion, outcomes, detectedAt),
    removedStates: drops.map((d) => ({ image: d.image, platform: d.platform })),
  });
  const commitMs = performance.now() - tCommit;
  for (const drop of drops) logDrop(ctx.logger, drop);

  const totalMs = performance.now() - t0;
  const durationMs = Math.round(totalMs);
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
    timings: { stateLoadMs, prepareMs, checksMs, commitMs, totalMs },
    omittedFailures: items.filter((i) => !inRun(i) && i.failure !== undefined).map((i) => i.failure!),
  };
}

function onlyCheckTimeDiffers(a: ImageState, b: ImageState): boolean {
  return (
    a.digest === b.digest && a.mediaType === b.mediaType && a.platformDigest === b.platformDigest && a.created === b.created &&
    a.labels === b.labels && a.firstSeen === b.firstSeen && a.lastChanged === b.lastChanged && a.error === b.error &&
    a.errorSince === b.errorSince
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The per-registry bound: the smallest `concurrency` of the entries on that host, else the default. */
function registryLimits(config: Config): (registry: string) => number {
  const byHost = new Map<string, number>();
  for (const entry of config.registries) {
    if (entry.concurrency === undefined) continue;
    const host = normalizeEntryHost(entry.host).split('/')[0] ?? '';
    byHost.set(host, Math.min(byHost.get(host) ?? Infinity, entry.concurrency));
  }
  const fallback = Math.min(config.watch.workers, DEFAULT_REGISTRY_CONCURRENCY);
  return (registry) => byHost.get(registry) ?? fallback;
}

/**
 * The client as checks see it: manifest GETs (what Docker Hub counts as pulls) first ask the run's
 * budget, and a changed image whose GETs the budget cannot spare is deferred like a 429.
 */
function budgeted(client: ManifestSource, budget: RunBudget): ManifestSource {
  return {
    headManifest: (ref, reference) => client.headManifest(ref, reference),
    getManifest: (ref, reference) =>
      budget.mayFetch(ref.registry)
        ? client.getManifest(ref, reference)
        : Promise.reject(new RegistryError(`${ref.registry}: rate limit nearly spent; ${ref.name} changed and is checked again next run`, { status: 429 })),
    getImageConfig: (ref, digest) => client.getImageConfig(ref, digest),
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
