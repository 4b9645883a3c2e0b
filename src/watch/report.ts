/**
 * What a run reports about itself: one line per check and the totals. Deliveries are not part of
 * it: the run only plans them, and whoever sends them (check, serve's outbox) reports on them.
 */
import type { ImageState } from '../model/state.js';
import type { WatchedImage } from '../model/image.js';
import type { CheckOutcome } from './check.js';

/** A check's result, or `skipped`: not checked in this run (shutdown, rate limit), nothing stored. */
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
}

/** The report line of one check; no outcome means it was skipped, and the stored digest still stands. */
export function imageReport(image: WatchedImage, outcome: CheckOutcome | undefined, previous: ImageState | undefined): ImageReport {
  const line = { image: image.ref.name, platform: image.platform };
  if (outcome === undefined) return { ...line, status: 'skipped', digest: previous?.digest ?? null, previousDigest: previous?.digest ?? null, error: null };
  return { ...line, status: outcome.status, digest: outcome.digest, previousDigest: outcome.previousDigest, error: outcome.error };
}

export function countByStatus(images: readonly ImageReport[]): Record<ImageRunStatus, number> {
  const counts: Record<ImageRunStatus, number> = { new: 0, update: 0, unchanged: 0, error: 0, skipped: 0 };
  for (const image of images) counts[image.status]++;
  return counts;
}
