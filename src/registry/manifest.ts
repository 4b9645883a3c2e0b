/**
 * Manifest media types, platform choice in an index, and the bits of an image config herald reports.
 * Pure functions over parsed JSON; the client does the fetching.
 */
import { isDigest } from '../model/digest.js';
import { isPlainObject } from '../util/text.js';
import { RegistryError, UserError } from '../util/errors.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** Every manifest type herald reads. Registries answer 404/400 for types missing here (distribution 2.8 does). */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');

export function isIndexMediaType(mediaType: string): boolean {
  const t = stripMediaTypeParams(mediaType);
  return t === MEDIA_TYPES.ociIndex || t === MEDIA_TYPES.dockerList;
}

export function isImageManifestMediaType(mediaType: string): boolean {
  const t = stripMediaTypeParams(mediaType);
  return t === MEDIA_TYPES.ociManifest || t === MEDIA_TYPES.dockerManifest;
}

export function isManifestMediaType(mediaType: string): boolean {
  return isIndexMediaType(mediaType) || isImageManifestMediaType(mediaType);
}

/** 'application/vnd.oci.image.index.v1+json; charset=utf-8' → the bare type, lower-cased. */
export function stripMediaTypeParams(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * The media type of a parsed manifest: its own `mediaType` field, else inferred from its shape
 * (OCI allows omitting the field).
 */
export function mediaTypeOfDocument(doc: unknown): string | undefined {
  if (!isPlainObject(doc)) return undefined;
  if (typeof doc.mediaType === 'string' && doc.mediaType.length > 0) return stripMediaTypeParams(doc.mediaType);
  if (Array.isArray(doc.manifests)) return MEDIA_TYPES.ociIndex;
  if (isPlainObject(doc.config) && Array.isArray(doc.layers)) return MEDIA_TYPES.ociManifest;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Platforms

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p.length === 0)) {
    throw new UserError(`invalid platform "${s}": expected os/arch or os/arch/variant, e.g. linux/arm64/v8`, 2);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

const ARCH_ALIASES: Record<string, { architecture: string; variant?: string }> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
};
/** The variant an architecture has when none is given (containerd's normalization). */
const DEFAULT_VARIANT: Record<string, string> = { amd64: 'v1', arm64: 'v8', arm: 'v7' };

/** Normalized comparable form: lower case, arch aliases resolved, default variant filled in. */
export function normalizePlatform(p: Platform): Required<Platform> {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  const alias = Object.prototype.hasOwnProperty.call(ARCH_ALIASES, architecture) ? ARCH_ALIASES[architecture] : undefined;
  if (alias) {
    architecture = alias.architecture;
    variant ??= alias.variant;
  }
  if (variant === undefined || variant === '') {
    variant = Object.prototype.hasOwnProperty.call(DEFAULT_VARIANT, architecture) ? (DEFAULT_VARIANT[architecture] ?? '') : '';
  }
  if (architecture === 'arm64' && variant === 'v8.0') variant = 'v8';
  return { os, architecture, variant };
}

/** OS and architecture must be equal; a missing variant means the architecture's default (arm64 ≡ arm64/v8). */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const a = normalizePlatform(wanted);
  const b = normalizePlatform(candidate);
  return a.os === b.os && a.architecture === b.architecture && a.variant === b.variant;
}

interface IndexEntry {
  digest: string;
  mediaType: string;
  platform: Platform;
  attestation: boolean;
}

function indexEntries(index: unknown): IndexEntry[] {
  if (!isPlainObject(index) || !Array.isArray(index.manifests)) return [];
  const out: IndexEntry[] = [];
  for (const m of index.manifests as unknown[]) {
    if (!isPlainObject(m) || typeof m.digest !== 'string' || !isPlainObject(m.platform)) continue;
    const p = m.platform;
    if (typeof p.os !== 'string' || typeof p.architecture !== 'string') continue;
    const platform: Platform = { os: p.os, architecture: p.architecture };
    if (typeof p.variant === 'string' && p.variant.length > 0) platform.variant = p.variant;
    const annotations = isPlainObject(m.annotations) ? m.annotations : {};
    // BuildKit attaches provenance/SBOM as 'unknown/unknown' entries typed as attestation manifests.
    const attestation =
      (p.os === 'unknown' && p.architecture === 'unknown') || annotations['vnd.docker.reference.type'] === 'attestation-manifest';
    out.push({ digest: m.digest, mediaType: typeof m.mediaType === 'string' ? m.mediaType : '', platform, attestation });
  }
  return out;
}

/**
 * From a parsed index/manifest list: the entry for the platform (attestation entries skipped).
 * An entry whose variant is spelled exactly as wanted wins over one that only matches after
 * normalization; otherwise the first match in index order.
 */
export function selectPlatform(index: unknown, wanted: Platform): { digest: string; mediaType: string; platform: Platform } | undefined {
  const matches = indexEntries(index).filter((e) => !e.attestation && platformMatches(wanted, e.platform));
  const exact = matches.find((e) => (e.platform.variant ?? '') === (wanted.variant ?? ''));
  const chosen = exact ?? matches[0];
  if (!chosen) return undefined;
  return { digest: chosen.digest, mediaType: chosen.mediaType, platform: chosen.platform };
}

/** The platforms an index offers (attestations left out), for messages like "has linux/amd64, linux/arm64/v8". */
export function platformsOf(index: unknown): Platform[] {
  return indexEntries(index)
    .filter((e) => !e.attestation)
    .map((e) => e.platform);
}

// ---------------------------------------------------------------------------------------------
// Image manifests and configs

export function configDigestOf(manifest: unknown): string {
  if (!isPlainObject(manifest)) throw new RegistryError('malformed manifest: not a JSON object');
  if (Array.isArray(manifest.manifests)) throw new RegistryError('malformed manifest: an index has no config (select a platform first)');
  if (manifest.schemaVersion === 1) throw new RegistryError('unsupported manifest: Docker schema 1');
  const config = manifest.config;
  if (!isPlainObject(config) || typeof config.digest !== 'string' || !isDigest(config.digest)) {
    throw new RegistryError('malformed manifest: no config digest');
  }
  return config.digest;
}

/** The parts of an image config that events report. */
export interface ImageConfigBlob {
  created?: string;
  labels: Record<string, string>;
}

export function parseImageConfig(blob: Buffer): ImageConfigBlob {
  let doc: unknown;
  try {
    doc = JSON.parse(blob.toString('utf8'));
  } catch {
    throw new RegistryError('malformed image config: not JSON');
  }
  if (!isPlainObject(doc)) throw new RegistryError('malformed image config: not a JSON object');
  const info: ImageConfigBlob = { labels: {} };
  if (typeof doc.created === 'string' && doc.created.length > 0) info.created = doc.created;
  // Docker writes config.Labels; some old builders only filled container_config.Labels.
  const labels = (isPlainObject(doc.config) && isPlainObject(doc.config.Labels) ? doc.config.Labels : undefined) ??
    (isPlainObject(doc.container_config) && isPlainObject(doc.container_config.Labels) ? doc.container_config.Labels : undefined);
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      if (typeof v === 'string') Object.defineProperty(info.labels, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  return info;
}

