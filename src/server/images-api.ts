/**
 * GET /api/images: every image's stored state with its containers (Store.imageViews), plus what the
 * dashboard needs besides:
 *   - `deliveries: { pending, failed }`: its open deliveries, counted in the store (one query);
 *   - `newestTag` (watchRepo images of the watch list): the first tag the last run's selection kept;
 *   - the images of the watch list that have no stored state yet, with `lastChecked: null` and no
 *     digest ("not checked yet").
 * The watch list is the daemon's (the last run's collected images, or the config's own before any
 * run); without one (a bare server) only stored states are listed.
 */
import type { ImageView, Store } from '../store/index.js';
import { stateKey } from '../model/state.js';

/** One image of the daemon's watch list. */
export interface WatchedEntry {
  image: string;
  platform: string;
  sources: string[];
  /** watchRepo: the first tag the last run selected (absent when none, or before a run). */
  newestTag?: string;
}

export interface DeliveryCounts {
  pending: number;
  failed: number;
}

/** A never-checked image: every state field, empty. */
export interface UncheckedView {
  image: string;
  platform: string;
  digest: null;
  mediaType: null;
  platformDigest: null;
  created: null;
  labels: null;
  firstSeen: null;
  lastChecked: null;
  lastChanged: null;
  error: null;
  errorSince: null;
  sources: string[];
}

export type ApiImage = (ImageView | UncheckedView) & { deliveries: DeliveryCounts; newestTag?: string };

export function apiImages(store: Store, watched: readonly WatchedEntry[] = []): ApiImage[] {
  const open = new Map<string, DeliveryCounts>();
  for (const r of store.deliveries.openByImage()) open.set(stateKey(r.image, r.platform), { pending: r.pending, failed: r.failed });
  const listed = new Map<string, WatchedEntry>();
  for (const w of watched) listed.set(stateKey(w.image, w.platform), w);

  const out: ApiImage[] = [];
  const stored = new Set<string>();
  const extras = (key: string): Pick<ApiImage, 'deliveries' | 'newestTag'> => {
    const newestTag = listed.get(key)?.newestTag;
    return { deliveries: open.get(key) ?? { pending: 0, failed: 0 }, ...(newestTag !== undefined ? { newestTag } : {}) };
  };
  for (const view of store.imageViews()) {
    const key = stateKey(view.image, view.platform);
    stored.add(key);
    out.push({ ...view, ...extras(key) });
  }
  for (const [key, w] of listed) {
    if (stored.has(key)) continue;
    out.push({
      image: w.image,
      platform: w.platform,
      digest: null,
      mediaType: null,
      platformDigest: null,
      created: null,
      labels: null,
      firstSeen: null,
      lastChecked: null,
      lastChanged: null,
      error: null,
      errorSince: null,
      sources: w.sources,
      ...extras(key),
    });
  }
  return out;
}

/** Whether POST /api/check?image= knows the image: a stored state, or on the watch list. */
export function knownImage(store: Store, watched: readonly WatchedEntry[], image: string): boolean {
  return store.imageViews(image).length > 0 || watched.some((w) => w.image === image);
}
