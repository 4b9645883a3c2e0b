/**
 * The run options that check one image (`herald check --image NAME`, and serve's
 * `POST /api/check?image=NAME`). A configured image runs as it always did (a watchRepo image with
 * all its tags). Otherwise NAME may be a tag found through watchRepo: its repository is listed by
 * the watchRepo images that follow it, and only NAME's checks run.
 */
import type { Logger } from '../util/log.js';
import type { ImageSource } from '../sources/source.js';
import { parseReference, repositoryKey } from '../model/reference.js';
import type { LoadedConfig } from '../config/load.js';
import { collectImages } from './collect.js';
import type { RunOptions } from './run.js';

export async function oneImageRun(
  loaded: LoadedConfig,
  sources: readonly ImageSource[],
  logger: Logger,
  name: string,
  signal?: AbortSignal,
): Promise<{ options: RunOptions; watchedRepository?: string }> {
  const collected = await collectImages(loaded, sources, logger, signal);
  const { images } = collected;
  // The run gets the images read here, so include files are read and sources listed once.
  const configured: RunOptions = { collected, only: (image) => image.ref.name === name };
  if (images.some((image) => image.ref.name === name)) return { options: configured };
  const ref = parseReference(name);
  // A digest reference is never a tag found by listing.
  if (ref.tag === undefined || ref.digest !== undefined) return { options: configured };
  const repository = repositoryKey(ref);
  if (!images.some((image) => image.watchRepo && repositoryKey(image.ref) === repository)) return { options: configured };
  return {
    options: {
      collected,
      only: (image) => image.watchRepo && repositoryKey(image.ref) === repository,
      onlyItem: (item) => item === name,
    },
    watchedRepository: repository,
  };
}
