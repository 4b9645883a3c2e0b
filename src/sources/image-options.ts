/**
 * What an image entry is, wherever it comes from: the config's `images:` and include files, or a
 * container's labels and a pod's annotations. The shape of its options (what `defaults` may set
 * too), how defaults apply, and the platform an image is checked for when nothing names one. The
 * config's schema builds on these, so a file image and a labelled container read the same keys the
 * same way.
 */
import { z } from 'zod';
import { errorMessage } from '../util/errors.js';
import { EVENT_STATUSES } from '../model/event.js';
import { hubLink as defaultHubLink } from '../model/hublink.js';
import type { ImageReference } from '../model/reference.js';
import type { WatchedImage } from '../model/image.js';
import { parseTag } from '../tags/versions.js';

/** A list of regexes; each must compile. Unanchored: matched anywhere in the tag. */
export const regexList = z.array(
  z.string().superRefine((source, ctx) => {
    try {
      new RegExp(source);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `invalid regex /${source}/: ${errorMessage(err).replace(/^Invalid regular expression: /, '')}` });
    }
  }),
);

export const eventStatus = z.enum(EVENT_STATUSES);

export const platform = z
  .string()
  .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'platform must look like os/arch or os/arch/variant, e.g. linux/arm64/v8');

/** Every image key except `name`; these are also what `defaults` may set. */
export const imageOptions = {
  platform: platform.optional(),
  notifyOn: z.array(eventStatus).optional(),
  notifiers: z.array(z.string().min(1)).optional(),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  hubLink: z.string().url().optional(),
  watchRepo: z.boolean().optional(),
  includeTags: regexList.optional(),
  excludeTags: regexList.optional(),
  sortTags: z.enum(['default', 'reverse', 'lexicographical', 'semver']).optional(),
  maxTags: z.number().int().min(0).optional(),
  newerOnly: z.boolean().optional(),
  /** With newerOnly: a newer tag must keep the image tag's prefix, suffix and number of parts (default true). */
  sameFlavour: z.boolean().optional(),
  /** With newerOnly: also keep pre-releases (-rc1, -beta.2) when the image's own tag is a release (default false). */
  includePrereleases: z.boolean().optional(),
};

export const imageSchema = z.object({ name: z.string().min(1), ...imageOptions }).strict();
export type ImageEntry = z.infer<typeof imageSchema>;

export const defaultsSchema = z.object(imageOptions).strict();
export type DefaultsConfig = z.infer<typeof defaultsSchema>;

/** The platform images are checked for when neither the image nor defaults name one. Images are linux. */
export function hostPlatform(): string {
  switch (process.arch) {
    case 'x64':
      return 'linux/amd64';
    case 'arm64':
      return 'linux/arm64/v8';
    case 'arm': {
      const version = (process.config.variables as { arm_version?: string }).arm_version;
      return `linux/arm/v${version === '6' ? '6' : '7'}`;
    }
    case 'ia32':
      return 'linux/386';
    case 'ppc64':
      return 'linux/ppc64le';
    default:
      return `linux/${process.arch}`;
  }
}

export function applyDefaults(image: ImageEntry, defaults: DefaultsConfig, ref: ImageReference, source: string): WatchedImage {
  const notifiers = image.notifiers ?? defaults.notifiers;
  const hubLink = image.hubLink ?? defaults.hubLink ?? defaultHubLink(ref);
  // Keys set one by one, in this order (the order JSON output shows): a conditional spread inside
  // the literal makes V8 build a new object shape per image, ~3 µs each in a short check process.
  const out: Partial<WatchedImage> & Pick<WatchedImage, 'name'> = {
    name: image.name,
    ref,
    platform: image.platform ?? defaults.platform ?? hostPlatform(),
    notifyOn: [...(image.notifyOn ?? defaults.notifyOn ?? ['new', 'update'])],
  };
  if (notifiers !== undefined) out.notifiers = [...notifiers];
  out.metadata = { ...defaults.metadata, ...image.metadata };
  if (hubLink !== undefined) out.hubLink = hubLink;
  out.watchRepo = image.watchRepo ?? defaults.watchRepo ?? false;
  out.includeTags = [...(image.includeTags ?? defaults.includeTags ?? [])];
  out.excludeTags = [...(image.excludeTags ?? defaults.excludeTags ?? [])];
  out.sortTags = image.sortTags ?? defaults.sortTags ?? 'default';
  out.maxTags = image.maxTags ?? defaults.maxTags ?? 0;
  out.newerOnly = image.newerOnly ?? defaults.newerOnly ?? false;
  out.sameFlavour = image.sameFlavour ?? defaults.sameFlavour ?? true;
  out.includePrereleases = image.includePrereleases ?? defaults.includePrereleases ?? false;
  out.source = source;
  return out as WatchedImage;
}

/** newerOnly compares with the image's own tag, so with watchRepo that tag must be a version. */
export function newerOnlyTagProblem(image: WatchedImage): string | undefined {
  if (!image.watchRepo || !image.newerOnly) return undefined;
  const tag = image.ref.tag;
  if (tag === undefined) return 'newerOnly needs a version tag to compare with, not only a digest';
  if (parseTag(tag) === null) return `newerOnly needs a version tag to compare with (like 1.27.2 or v3.2.1-alpine); "${tag}" is not one`;
  return undefined;
}
