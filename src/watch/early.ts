/**
 * A watchRepo image's own tag is checked like a plain image, and its HEAD does not depend on the
 * repository's listing: the run sends it beside the listing, in the same slot of the pool, instead
 * of after every listing is done (two round trips per image become one).
 *
 * Only where no rate limit is in sight: a registry that has sent RateLimit headers or a 429 this
 * client's lifetime gets the HEAD in the check phase as before, admitted by the run's budget in
 * least-recently-checked order. A HEAD sent early is admitted (counted in flight) when it is sent,
 * and its check, in the check phase, takes its answer instead of sending another. If the listing
 * fails, the image is reported as failing as before and the answer is dropped.
 */
import type { WatchedImage } from '../model/image.js';
import type { RateLimitSource, RunBudget } from './budget.js';
import type { HeadAnswer, ManifestSource } from './check.js';

export class EarlyHeads {
  /**
   * By the image object the run checks (an own tag's check item holds the configured image itself),
   * not by a state key built per lookup: a run has one image per (name, platform) (collect.ts).
   */
  private readonly heads = new Map<WatchedImage, Promise<HeadAnswer>>();

  constructor(
    private readonly source: ManifestSource,
    private readonly budget: RunBudget,
    private readonly limits: RateLimitSource,
  ) {}

  /** Sends the own-tag HEAD of each image whose registry shows no rate limit; resolves when all are answered (never rejects). */
  start(images: readonly WatchedImage[]): Promise<unknown> | undefined {
    // Usually one image per repository: its settled HEAD alone, no array and no Promise.all.
    let first: Promise<unknown> | undefined;
    let more: Array<Promise<unknown>> | undefined;
    for (const image of images) {
      const { ref } = image;
      if (this.limits.rateLimit?.(ref.registry) !== undefined) continue;
      if (this.heads.has(image)) continue;
      this.budget.admitted(ref.registry);
      const head = this.source.headManifest(ref);
      this.heads.set(image, head);
      const settled = head.then(undefined, ignore);
      if (first === undefined) first = settled;
      else (more ??= [first]).push(settled);
    }
    return more !== undefined ? Promise.all(more) : first;
  }

  has(image: WatchedImage): boolean {
    return this.heads.has(image);
  }

  /**
   * The HEAD already sent for this image (its check's HEAD: checkImage's `sent`), or undefined when
   * none was. Once per image.
   */
  take(image: WatchedImage): Promise<HeadAnswer> | undefined {
    const head = this.heads.get(image);
    if (head !== undefined) this.heads.delete(image);
    return head;
  }

  /** The image will not be checked (its listing failed): its HEAD's answer is not used. */
  abandon(image: WatchedImage): void {
    if (!this.heads.delete(image)) return;
    this.budget.finished(image.ref.registry);
  }
}

/** One function for every HEAD's settled copy, instead of a new closure each. */
function ignore(): undefined {
  return undefined;
}
