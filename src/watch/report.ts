/**
 * What a run reports about itself: one line per check and the totals. Deliveries are not part of
 * it: the run only plans them, and whoever sends them (check, serve's outbox) reports on them.
 */
import type { ImageState } from '../model/state.js';
import type { WatchedImage } from '../model/image.js';
import type { CheckOutcome } from './check.js';
import { runsBehind } from '../model/container.js';
import type { SourceSummary } from './collect.js';

/** A check's result, or `skipped`: not checked in this run (shutdown, rate limit), nothing stored. */
export type ImageRunStatus = 'new' | 'update' | 'unchanged' | 'error' | 'skipped';

export interface ImageReport {
  image: string;
  platform: string;
  status: ImageRunStatus;
  digest: string | null;
  previousDigest: string | null;
  error: string | null;
  /** Images that containers run: how many run it, and how many of them run behind the registry. */
  containers?: number;
  outdated?: number;
}

export interface RunReport {
  startedAt: string;
  durationMs: number;
  images: ImageReport[];
  events: number;
  /** With `sources:`: what each source listed, or why it could not. */
  sources?: SourceSummary[];
}

/** The report line of one check; no outcome means it was skipped, and the stored digest still stands. */
export function imageReport(image: WatchedImage, outcome: CheckOutcome | undefined, previous: ImageState | undefined): ImageReport {
  // Literals in the report's key order (the JSON output's order), without a spread of a shared part.
  const report: ImageReport =
    outcome === undefined
      ? { image: image.ref.name, platform: image.platform, status: 'skipped', digest: previous?.digest ?? null, previousDigest: previous?.digest ?? null, error: null }
      : { image: image.ref.name, platform: image.platform, status: outcome.status, digest: outcome.digest, previousDigest: outcome.previousDigest, error: outcome.error };
  const { containers } = image;
  if (containers !== undefined && containers.length > 0) {
    const platformDigest = outcome?.platformDigest ?? previous?.platformDigest ?? null;
    report.containers = containers.length;
    report.outdated = containers.filter((c) => runsBehind(c, report.digest, platformDigest)).length;
  }
  return report;
}

export function countByStatus(images: readonly ImageReport[]): Record<ImageRunStatus, number> {
  const counts: Record<ImageRunStatus, number> = { new: 0, update: 0, unchanged: 0, error: 0, skipped: 0 };
  for (const image of images) counts[image.status]++;
  return counts;
}
