import type { RunningContainer } from './container.js';
import type { EventStatus } from './event.js';
import type { ImageReference } from './reference.js';

/** One image to check, as a run sees it: its config entry with the defaults applied and the name parsed. */
export interface WatchedImage {
  /** As written in the config. */
  name: string;
  ref: ImageReference;
  /** image.platform ?? defaults.platform ?? the host's platform. */
  platform: string;
  notifyOn: EventStatus[];
  /** Undefined: every notifier. */
  notifiers?: string[];
  /** defaults.metadata with image.metadata over it. */
  metadata: Record<string, string | number | boolean>;
  hubLink?: string;
  watchRepo: boolean;
  includeTags: string[];
  excludeTags: string[];
  sortTags: 'default' | 'reverse' | 'lexicographical' | 'semver';
  maxTags: number;
  newerOnly: boolean;
  /** With newerOnly: only tags of the image tag's flavour (prefix, suffix, number of parts) count as newer. */
  sameFlavour: boolean;
  /** With newerOnly: pre-releases count as newer even when the image's own tag is a release. */
  includePrereleases: boolean;
  /** Where it was declared: `file:line` (or `environment HERALD_IMAGES_0_NAME`), or `source NAME`. */
  source: string;
  /**
   * Names of the sources that list it: `config` for the config's images and include files, else a
   * `sources[].name`. Absent means `config`.
   */
  sources?: string[];
  /** The containers that run it, from engine and cluster sources (with their running digests). */
  containers?: RunningContainer[];
  /**
   * A problem found while listing it (a bad label value on one of its containers): the image is not
   * checked, and the run reports this as its error.
   */
  problem?: string;
}
