/**
 * The daemon's watch list, for /api/images: the images the last run collected (config and sources)
 * with the newest tag each watchRepo image's selection kept. Before the first run (and after a
 * reload, until the next run) it is the config's own images, read without asking any engine.
 * An HTTP request only reads it.
 */
import type { LoadedConfig } from '../config/load.js';
import { resolveImages } from '../config/images.js';
import type { WatchedImage } from '../model/image.js';
import { stateKey } from '../model/state.js';
import { FILE_SOURCE } from '../sources/source.js';
import type { WatchedEntry } from '../server/images-api.js';

export class WatchList {
  private images: readonly WatchedImage[] = [];
  private newest = new Map<string, string>();
  private cached: WatchedEntry[] | undefined;

  /** The config's own images (an include file that cannot be read leaves the list as it was: the run will say why). */
  async fromConfig(loaded: LoadedConfig): Promise<void> {
    try {
      const own = await resolveImages(loaded);
      this.set(own.map((i) => ({ ...i, sources: [FILE_SOURCE] })));
    } catch {
      // The next run reports it.
    }
  }

  /** A run's result: a whole run replaces the list; a run of one image only updates newest tags it found. */
  fromRun(result: { watched: WatchedImage[]; newestTags: Map<string, string> }, whole: boolean): void {
    if (whole) this.newest = new Map(result.newestTags);
    else for (const [key, tag] of result.newestTags) this.newest.set(key, tag);
    this.set(result.watched);
  }

  entries(): readonly WatchedEntry[] {
    this.cached ??= this.images.map((i) => {
      const newestTag = i.watchRepo ? this.newest.get(stateKey(i.ref.name, i.platform)) : undefined;
      return { image: i.ref.name, platform: i.platform, sources: i.sources ?? [FILE_SOURCE], ...(newestTag !== undefined ? { newestTag } : {}) };
    });
    return this.cached;
  }

  private set(images: readonly WatchedImage[]): void {
    this.images = images;
    this.cached = undefined;
  }
}
