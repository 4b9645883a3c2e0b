import { collectImages } from '../watch/collect.js';
import { createSource } from '../sources/index.js';
import { shortDigest } from '../model/digest.js';
import { stateKey } from '../model/state.js';
import { followedByWatchRepo } from '../watch/expand.js';
import { repositoryKey } from '../model/reference.js';
import { Store } from '../store/index.js';
import { FILE_SOURCE } from '../sources/source.js';
import type { ContainerReport } from '../model/container.js';
import type { LoadedConfig } from '../config/load.js';
import { imageArgument, loadFromOptions, loggerFor, print, printJson, table, type CommandOptions } from './context.js';

/** `images list` and `images inspect`; remove and prune have only the common options. */
export interface ImagesOptions extends CommandOptions {
  json?: boolean;
}

/** These commands read or make one small edit: no writer lock, so they work while serve runs. */
function openStore(loaded: LoadedConfig): Store {
  return Store.open(loaded.config.db.path);
}

export async function list(opts: ImagesOptions): Promise<number> {
  const store = openStore(await loadFromOptions(opts));
  try {
    const states = store.imageViews();
    if (opts.json) {
      printJson(states);
    } else if (states.length === 0) {
      print('no images checked yet');
    } else {
      const withContainers = states.some((s) => s.containers !== undefined);
      print(
        table(
          ['IMAGE', 'PLATFORM', 'DIGEST', 'LAST CHECKED', 'LAST CHANGED', ...(withContainers ? ['SOURCES', 'CONTAINERS'] : []), 'ERROR'],
          states.map((s) => [
            s.image, s.platform, shortDigest(s.digest), s.lastChecked ?? '-', s.lastChanged ?? '-',
            ...(withContainers ? [(s.sources ?? [FILE_SOURCE]).join(','), containersCell(s.containers)] : []),
            s.error ?? '',
          ]),
        ),
      );
    }
    return 0;
  } finally {
    store.close();
  }
}

/** `2, 1 outdated` (or `-`): how many containers run it and how many run behind the registry. */
function containersCell(containers: readonly ContainerReport[] | undefined): string {
  if (containers === undefined || containers.length === 0) return '-';
  const outdated = containers.filter((c) => c.outdated).length;
  return outdated === 0 ? String(containers.length) : `${containers.length}, ${outdated} outdated`;
}

export async function inspect(ref: string, opts: ImagesOptions): Promise<number> {
  const image = imageArgument(ref);
  const store = openStore(await loadFromOptions(opts));
  try {
    const states = store.imageViews(image);
    if (states.length === 0) {
      process.stderr.write(`herald: no stored state for ${image}\n`);
      return 1;
    }
    const events = store.events.recent(10, image);
    if (opts.json) printJson({ states, events });
    else {
      for (const s of states) {
        print(
          [
            `image:          ${s.image}`,
            `platform:       ${s.platform}`,
            `digest:         ${s.digest ?? '-'}`,
            `platformDigest: ${s.platformDigest ?? '-'}`,
            `mediaType:      ${s.mediaType ?? '-'}`,
            `created:        ${s.created ?? '-'}`,
            `firstSeen:      ${s.firstSeen}`,
            `lastChecked:    ${s.lastChecked ?? '-'}`,
            `lastChanged:    ${s.lastChanged ?? '-'}`,
            `error:          ${s.error ?? '-'}${s.errorSince ? ` (since ${s.errorSince})` : ''}`,
            `sources:        ${(s.sources ?? [FILE_SOURCE]).join(', ')}`,
            ...(s.containers ?? []).map(
              (c) => `container:      ${c.source} ${c.namespace !== undefined ? `${c.namespace}/` : ''}${c.name} runs ${c.runningDigest ?? 'an unknown digest'}${c.outdated ? ' (outdated)' : ''}`,
            ),
            '',
          ].join('\n'),
        );
      }
      if (events.length > 0) {
        print(table(['DETECTED', 'STATUS', 'PLATFORM', 'DIGEST'], events.map((e) => [e.detectedAt, e.status, e.platform, shortDigest(e.digest)])));
      }
    }
    return 0;
  } finally {
    store.close();
  }
}

export async function remove(ref: string, opts: CommandOptions): Promise<number> {
  const image = imageArgument(ref);
  const store = openStore(await loadFromOptions(opts));
  try {
    const n = store.state.remove(image);
    if (n === 0) {
      process.stderr.write(`herald: no stored state for ${image}\n`);
      return 1;
    }
    print(`removed ${image} (${n} platform${n === 1 ? '' : 's'})`);
    return 0;
  } finally {
    store.close();
  }
}

export async function prune(opts: CommandOptions): Promise<number> {
  const loaded = await loadFromOptions(opts);
  const logger = loggerFor(opts);
  // What runs now counts as watched: the sources are listed as a run lists them.
  const sources = loaded.config.sources.map((config) => createSource(config, { logger, dir: loaded.dir }));
  const collected = await collectImages(loaded, sources, logger).finally(() => Promise.all(sources.map((s) => s.close())));
  const { images } = collected;
  // A source that cannot be listed keeps its images: its containers may well still run them.
  const unlisted = new Set(collected.sources.filter((s) => s.error !== null).map((s) => s.name));
  for (const s of collected.sources) if (s.error !== null) print(`keeping the images of source ${s.name}, which could not be listed: ${s.error}`);
  const watched = new Set(images.map((i) => stateKey(i.ref.name, i.platform)));
  const watchedRepositories = new Set(images.filter((i) => i.watchRepo).map((i) => repositoryKey(i.ref)));
  const store = openStore(loaded);
  try {
    // Tags found by watchRepo are not in the config; they stay while their repository is watched.
    const stale = store.state
      .all()
      .filter((s) => !watched.has(stateKey(s.image, s.platform)) && !followedByWatchRepo(s, images) && !(s.sources ?? []).some((n) => unlisted.has(n)));
    const staleRepositories = store.repositories.repositories().filter((r) => !watchedRepositories.has(r));
    store.forget(stale, staleRepositories);
    for (const s of stale) print(`removed ${s.image} (${s.platform})`);
    print(`pruned ${stale.length} image state${stale.length === 1 ? '' : 's'}`);
    return 0;
  } finally {
    store.close();
  }
}
