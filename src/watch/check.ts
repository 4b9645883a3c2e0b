/**
 * One (image, platform) → what changed. Pure over a registry client and the previous state: no
 * database, no clock beyond the `now` it is given.
 *
 * Cost, which is the point of herald:
 * - unchanged tag: one HEAD;
 * - first check of a single-platform image: one HEAD (plus manifest + config only when the `new`
 *   event will be notified and so wants `created`/labels);
 * - first check of a multi-platform image: HEAD + GET of the index (to learn the platform digest);
 * - changed tag: HEAD, GET manifest (index → platform manifest), GET config blob. No second HEAD.
 */
import { oneLine } from '../util/text.js';
import { parsePlatform, formatPlatform, isIndexMediaType, selectPlatform, platformsOf, configDigestOf } from '../registry/manifest.js';
import type { ImageConfigBlob } from '../registry/manifest.js';
import type { ImageReference } from '../model/reference.js';
import { RegistryError, UserError, errorMessage } from '../util/errors.js';
import type { ImageState } from '../model/state.js';

/** The part of RegistryClient a check uses (structural, so tests and benches can wrap it). */
export interface ManifestSource {
  headManifest(ref: ImageReference, reference?: string): Promise<{ digest: string; mediaType: string; manifest?: { digest: string; mediaType: string; json: unknown } }>;
  getManifest(ref: ImageReference, reference: string): Promise<{ digest: string; mediaType: string; json: unknown }>;
  getImageConfig(ref: ImageReference, configDigest: string): Promise<ImageConfigBlob>;
}

/** One check to make: which image, for which platform, and whether a first sighting needs its details. */
export interface CheckRequest {
  ref: ImageReference;
  platform: string;
  /** Fetch created/labels for a first sighting (only worth a GET when the `new` event is notified). */
  detailsOnFirstCheck: boolean;
}

export type CheckStatus = 'new' | 'update' | 'unchanged' | 'error';

export interface CheckOutcome {
  status: CheckStatus;
  /** True when nothing was known of this (image, platform) before this check. */
  firstCheck: boolean;
  digest: string | null;
  previousDigest: string | null;
  mediaType: string | null;
  platformDigest: string | null;
  previousPlatformDigest: string | null;
  created: string | null;
  labels: Record<string, string>;
  error: string | null;
  /** Set when the error is not one a user or registry can cause: a bug, logged with its stack. */
  unexpected?: unknown;
  /** The check failed on a 429 (or was stopped to spare a nearly spent budget): the run defers it. */
  rateLimited?: boolean;
}

/** A manifest HEAD's answer, as ManifestSource gives it. */
export type HeadAnswer = Awaited<ReturnType<ManifestSource['headManifest']>>;

/** `sent`: this check's HEAD when it was sent already, beside the repository's listing (early.ts). */
export async function checkImage(client: ManifestSource, request: CheckRequest, previous: ImageState | undefined, sent?: Promise<HeadAnswer>): Promise<CheckOutcome> {
  const known = previous?.digest != null;
  try {
    const { ref } = request;
    const head = await (sent ?? client.headManifest(ref));
    if (known && previous!.digest === head.digest) {
      return unchangedOutcome(previous!, head.digest, previous!.mediaType ?? head.mediaType, previous!.platformDigest);
    }

    const wantDetails = known || request.detailsOnFirstCheck;
    let platformDigest = head.digest;
    let platformManifest: { json: unknown } | undefined;

    if (isIndexMediaType(head.mediaType)) {
      const index = head.manifest ?? (await client.getManifest(ref, head.digest));
      const wanted = parsePlatform(request.platform);
      const entry = selectPlatform(index.json, wanted);
      if (entry === undefined) {
        const has = platformsOf(index.json).map(formatPlatform).join(', ') || 'none';
        throw new UserError(`${ref.name}: no ${request.platform} image in the index (has ${has})`);
      }
      platformDigest = entry.digest;
      if (known && previous!.platformDigest === platformDigest) {
        // The index was rebuilt but our platform's manifest is the same: not an update. The caller
        // stores the new index digest so the next check is one HEAD again.
        return unchangedOutcome(previous!, head.digest, head.mediaType, platformDigest);
      }
      if (wantDetails) platformManifest = await client.getManifest(ref, platformDigest);
    } else if (wantDetails) {
      platformManifest = head.manifest ?? (await client.getManifest(ref, head.digest));
    }

    let details: ImageConfigBlob | undefined;
    if (platformManifest !== undefined) {
      details = await client.getImageConfig(ref, configDigestOf(platformManifest.json));
    }
    return {
      firstCheck: !known,
      previousDigest: previous?.digest ?? null,
      previousPlatformDigest: previous?.platformDigest ?? null,
      status: known ? 'update' : 'new',
      digest: head.digest,
      mediaType: head.mediaType,
      platformDigest,
      created: details?.created ?? null,
      labels: details?.labels ?? {},
      error: null,
    };
  } catch (err) {
    const outcome = errorOutcome(errorMessage(err), previous, err instanceof UserError ? undefined : err);
    if (err instanceof RegistryError && err.status === 429) outcome.rateLimited = true;
    return outcome;
  }
}

/**
 * The outcome of a check that found the stored digest (or, for an index, the platform's digest):
 * the previous state's details. One literal, no spread: most checks of most runs end here.
 */
function unchangedOutcome(previous: ImageState, digest: string, mediaType: string | null, platformDigest: string | null): CheckOutcome {
  return {
    firstCheck: false,
    previousDigest: previous.digest,
    previousPlatformDigest: previous.platformDigest ?? null,
    status: 'unchanged',
    digest,
    mediaType,
    platformDigest,
    created: previous.created,
    labels: previous.labels ?? {},
    error: null,
  };
}

/** A failed check: the previous state's values, untouched, and the error as one line. */
export function errorOutcome(message: string, previous: ImageState | undefined, unexpected?: unknown): CheckOutcome {
  const outcome: CheckOutcome = {
    status: 'error',
    firstCheck: previous?.digest == null,
    digest: previous?.digest ?? null,
    previousDigest: previous?.digest ?? null,
    mediaType: previous?.mediaType ?? null,
    platformDigest: previous?.platformDigest ?? null,
    previousPlatformDigest: previous?.platformDigest ?? null,
    created: previous?.created ?? null,
    labels: previous?.labels ?? {},
    error: oneLine(message, 500),
  };
  if (unexpected !== undefined) outcome.unexpected = unexpected;
  return outcome;
}

