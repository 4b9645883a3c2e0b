/**
 * One run: resolve the watched images (include files are re-read), expand watchRepo images into
 * their tags (expand.ts), check everything with a bounded pool (check.ts, at most so many checks per
 * registry, within its rate-limit budget), turn each result into a state and an event (reconcile.ts),
 * then write every new state, event and delivery in one transaction.
 *
 * Results are committed once, at the end of the run: a crash mid-run leaves the previous state in
 * place, so the next run detects the same changes again. Nothing is lost, and nothing is half-stored.
 */
import type { Logger } from '../util/log.js';
import type { LoadedConfig } from '../config/load.js';
import { collectImages, type Collected } from './collect.js';
import type { ImageSource } from '../sources/source.js';
import type { WatchedImage } from '../model/image.js';
import type { Store } from '../store/index.js';
import { stateKey, type ImageState } from '../model/state.js';
import { checkImage, errorOutcome, type CheckOutcome, type ManifestSource } from './check.js';
import { expandImages, repositoryWrites, type CheckItem, type DroppedTag, type TagLister } from './expand.js';
import type { HeraldEvent } from '../model/event.js';
import { mapPoolByKey } from './pool.js';
import { budgeted, RunBudget, type RateLimitSource } from './budget.js';
import { EarlyHeads } from './early.js';
import { planDeliveries, type RoutedEvent } from '../notify/route.js';
import { hasOwnConcurrency, registryConcurrency } from '../registry/entries.js';
import { AdaptiveBounds } from './adaptive.js';
import type { ImageReference } from '../model/reference.js';
import { reconcile } from './reconcile.js';
import { counted } from '../util/text.js';
import { countByStatus, imageReport, type ImageReport, type RunReport } from './report.js';

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
  /** The engine and cluster sources (`sources:`); the config's own images are always read. */
  sources?: readonly ImageSource[];
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
  /** The images when the caller has collected them already (check --image reads them to choose); else collected here. */
  collected?: Collected;
  /** Stops starting new checks (serve's shutdown); checks already running finish. */
  signal?: AbortSignal;
  /**
   * The level of the "run finished" line; default info. `herald check` in a terminal prints the
   * same summary under its table, so there the line is debug.
   */
  finishedLevel?: 'info' | 'debug';
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
  /** Every image the run collected (before `only`): the watch list the dashboard shows. */
  watched: WatchedImage[];
  /** The first tag each watchRepo image's selection kept this run (by stateKey of the configured image). */
  newestTags: Map<string, string>;
}

export async function runOnce(ctx: RunContext, opts: RunOptions = {}): Promise<RunResult> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const startedMs = started.getTime();
  const t0 = performance.now();
  const { config } = ctx.loaded;
  const collected = opts.collected ?? (await collectImages(ctx.loaded, ctx.sources ?? [], ctx.logger, opts.signal));
  const all = collected.images;
  const images = opts.only ? all.filter(opts.only) : all;

  const tLoad = performance.now();
  const previous = ctx.store.state.map();
  const stateLoadMs = performance.now() - tLoad;

  // One ping per registry and a few many-scope token requests, instead of a token per repository
  // fetched by whichever check comes first. A warm `serve` has them all cached and sends nothing.
  const tPrepare = performance.now();
  if (ctx.client.prepare !== undefined && images.length > 0) await ctx.client.prepare(images.map((i) => i.ref));
  const prepareMs = performance.now() - tPrepare;

  const { onlyItem } = opts;
  const inRun = (image: WatchedImage) => onlyItem === undefined || onlyItem(image.ref.name);
  const { workers } = config.watch;
  // Per-registry bounds that grow while a registry answers fast and shows no rate limit (adaptive.ts).
  const ownConcurrency = hasOwnConcurrency(config.registries);
  const workersSet = ctx.loaded.isSet?.(['watch', 'workers']) ?? true;
  const bounds = new AdaptiveBounds(registryConcurrency(config.registries, workers), (registry) => !workersSet && !ownConcurrency(registry), ctx.client);
  const limitOf = (registry: string): number => bounds.limitOf(registry);
  const concurrency = (): number => bounds.concurrency(workers);
  const budget = new RunBudget(ctx.client, [], ctx.logger, startedMs, () => now().getTime());
  const source = budgeted(ctx.client, budget);
  // A watchRepo image's own tag does not depend on the listing: its HEAD goes beside it (see early.ts).
  const early = new EarlyHeads(source, budget, ctx.client);
  // Every recorded listing in two queries, read when the first listing comes back (none without watchRepo).
  let known: ReturnType<Store['repositories']['known']> | undefined;
  // Whether an image's own HEAD may go beside its listing (not when its check will not run).
  const sendsEarly = (image: WatchedImage) => image.problem === undefined && inRun(image);
  const expansion = await expandImages(images, {
    lister: { listTags: (ref) => timed(bounds, ref.registry, ctx.client.listTags(ref)) },
    known: (repository) => (known ??= ctx.store.repositories.known()).get(repository),
    previous,
    all,
    concurrency,
    limitOf,
    alongside: (watchers) => early.start(watchers.every(sendsEarly) ? watchers : watchers.filter(sendsEarly)),
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    logger: ctx.logger,
  });
  const { items } = expansion;
  // A bad label on one of its containers: the image (and any tag it follows) is an error, unchecked.
  for (const item of items) if (item.owner.problem !== undefined) item.failure ??= item.owner.problem;
  for (const item of items) {
    if (!inRun(item.image)) continue;
    if (item.failure === undefined) budget.expect(item.image.ref.registry);
    else early.abandon(item.image); // its listing failed: the HEAD sent beside it is not used
  }
  // Each item's previous state, looked up once (the sort, the checks and the results read it).
  const prevs = items.map((item) => previous.get(stateKey(item.image.ref.name, item.image.platform)));
  // Least recently checked first (never checked before all): what a rate limit deferred goes first next time.
  const lastChecked = prevs.map((prev) => prev?.lastChecked ?? '');
  const order: number[] = [];
  for (let i = 0; i < items.length; i++) if (inRun(items[i]!.image)) order.push(i);
  // Usually in order already (every image checked by the last run): then the (stable) sort is skipped.
  if (!inOrder(order, lastChecked)) order.sort((a, b) => compare(lastChecked[a]!, lastChecked[b]!));

  const tChecks = performance.now();
  const ordered = await mapPoolByKey(
    order,
    {
      concurrency,
      keyOf: (i) => items[i]!.image.ref.registry,
      limitOf,
      signal: opts.signal,
      onSkip: () => undefined as CheckOutcome | undefined,
    },
    async (i) => {
      const item = items[i]!;
      const { image } = item;
      const prev = prevs[i];
      if (item.failure !== undefined) {
        const failed = errorOutcome(item.failure, prev);
        logOutcome(ctx.logger, item, failed);
        return failed;
      }
      const sent = early.take(image);
      if (sent === undefined && !budget.admit(image.ref.registry)) return undefined;
      // A check whose HEAD went beside the listing was timed with the listing: no clock read for it.
      const t = sent === undefined ? performance.now() : 0;
      const request = { ref: image.ref, platform: image.platform, detailsOnFirstCheck: wantsDetails(item, config.watch.firstCheckNotify) };
      const outcome = await checkImage(source, request, prev, sent);
      budget.finished(image.ref.registry);
      if (outcome.status === 'error') bounds.failed(image.ref.registry);
      else if (sent === undefined) bounds.answered(image.ref.registry, performance.now() - t);
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
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const { image } = item;
    if (!inRun(image)) continue;
    const outcome = outcomes[i];
    const prev = prevs[i];
    reports.push(imageReport(image, outcome, prev));
    if (outcome === undefined) continue;
    const { state, onlyCheckTime, event, firstCheck } = reconcile(item, outcome, prev, detectedAt);
    if (onlyCheckTime) checked.push([state.image, state.platform]);
    else states.push(state);
    if (event !== undefined) routed.push({ event, image, firstCheck });
  }

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
    // A partial run (check --image) lists every source but stores what it saw only when whole.
    containers: opts.only === undefined ? collected.containers.map((c) => ({ ...c, at: detectedAt })) : [],
    ...(opts.only === undefined ? { sources: (ctx.sources ?? []).map((s) => s.name) } : {}),
    removedStates: drops.map((d) => ({ image: d.image, platform: d.platform })),
  });
  const commitMs = performance.now() - tCommit;
  for (const drop of drops) logDrop(ctx.logger, drop);

  const totalMs = performance.now() - t0;
  const durationMs = Math.round(totalMs);
  const counts = countByStatus(reports);
  ctx.logger[opts.finishedLevel ?? 'info'](
    { images: reports.length, ...counts, events: events.length, notifications: deliveries.length, durationMs },
    `run finished: ${counted(reports.length, 'image')}, ${counts.new} new, ${counts.update} updated, ${counts.error} failed in ${durationMs} ms`,
  );
  return {
    report: {
      startedAt: started.toISOString(),
      durationMs,
      images: reports,
      events: events.length,
      ...(collected.sources.length > 0 ? { sources: collected.sources } : {}),
    },
    events,
    timings: { stateLoadMs, prepareMs, checksMs, commitMs, totalMs },
    omittedFailures: items.filter((i) => !inRun(i.image) && i.failure !== undefined).map((i) => i.failure!),
    watched: all,
    newestTags: expansion.newestTags,
  };
}

/** A listing's answer time (or failure) for the registry's adaptive bound. */
async function timed<T>(bounds: AdaptiveBounds, registry: string, work: Promise<T>): Promise<T> {
  const t = performance.now();
  try {
    const value = await work;
    bounds.answered(registry, performance.now() - t);
    return value;
  } catch (err) {
    bounds.failed(registry);
    throw err;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether these indexes are in ascending order of their keys already. */
function inOrder(indexes: readonly number[], keys: readonly string[]): boolean {
  for (let k = 1; k < indexes.length; k++) if (keys[indexes[k - 1]!]! > keys[indexes[k]!]!) return false;
  return true;
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
  // The common case, an unchanged image at info level, builds nothing.
  if (o.status === 'unchanged' && !logger.isLevelEnabled('debug')) return;
  const fields = { image: image.ref.name, platform: image.platform, digest: o.digest };
  switch (o.status) {
    case 'unchanged':
      logger.debug(fields, 'unchanged');
      break;
    // One line per image that says what the run report (check's table, --json, the run's events)
    // says already: debug, or 300 images would bury the report in as many log lines.
    case 'new':
      // A tag that appeared in a watchRepo repository is `new`; any other first sighting a `first check`.
      if (item.expanded !== undefined) logger.debug(fields, item.expanded.appeared ? 'new' : 'first check');
      else logger.debug(fields, o.firstCheck ? 'first check' : 'new');
      break;
    case 'update':
      logger.debug({ ...fields, previousDigest: o.previousDigest }, 'update');
      break;
    case 'error':
      if (o.unexpected !== undefined) logger.error({ ...fields, err: o.unexpected }, `check failed (bug): ${o.error}`);
      else logger.warn({ image: image.ref.name, platform: image.platform }, `check failed: ${o.error}`);
      break;
  }
}
