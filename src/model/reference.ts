/**
 * Image references, normalized with the distribution reference rules:
 * - the first path component is a registry host only if it contains '.' or ':' or is 'localhost';
 *   otherwise the image is on Docker Hub;
 * - Docker Hub's aliases (index.docker.io, registry-1.docker.io) become 'docker.io', and one-segment
 *   Hub names get 'library/';
 * - no tag and no digest means ':latest'.
 */
import { isDigest, isVerifiableDigest } from './digest.js';
import { UserError } from '../util/errors.js';

/** Read-only: parseReference hands the same (frozen) object to every caller of one input. */
export interface ImageReference {
  /** Registry host with optional port: 'docker.io', 'ghcr.io', '127.0.0.1:5000'. */
  readonly registry: string;
  /** Repository path inside the registry: 'library/nginx', 'acme/api'. */
  readonly repository: string;
  /** Tag; set unless the reference is by digest only. */
  readonly tag?: string;
  /** Digest pinned in the reference ('sha256:…'), if any. */
  readonly digest?: string;
  /** Canonical string: 'docker.io/library/nginx:1.27', 'host/repo@sha256:…'. */
  readonly name: string;
}

export const DOCKER_HUB = 'docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** A tag as the distribution spec allows it: word characters, dots and dashes, at most 128, not starting with . or -. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

export class InvalidReferenceError extends UserError {
  constructor(input: string, reason: string) {
    super(`invalid image reference "${input}": ${reason}`, 2);
    this.name = 'InvalidReferenceError';
  }
}

/** The API host for a registry: Docker Hub's API lives on registry-1.docker.io. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

export function normalizeRegistryHost(host: string): string {
  const lower = host.toLowerCase();
  return HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * References parsed so far, by input. A run parses each configured image's name several times (the
 * config checks, the image list, the stored states of watchRepo tags), and parsing is a handful of
 * regexes and string copies each time. Bounded: a daemon sees new tags for months.
 */
const parsed = new Map<string, ImageReference>();
const PARSED_MAX = 4096;

export function parseReference(input: string): ImageReference {
  const known = parsed.get(input);
  if (known !== undefined) return known;
  const ref = Object.freeze(parse(input));
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(input, ref);
  return ref;
}

function parse(input: string): ImageReference {
  if (typeof input !== 'string' || input.length === 0) throw new InvalidReferenceError(String(input), 'empty');
  if (input.length > 512) throw new InvalidReferenceError(input.slice(0, 40) + '…', 'longer than 512 characters');
  if (/\s/.test(input)) throw new InvalidReferenceError(input, 'contains whitespace');

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new InvalidReferenceError(input, `bad digest "${digest}"`);
    if (digest.startsWith('sha256:') && !isVerifiableDigest(digest)) {
      throw new InvalidReferenceError(input, 'a sha256 digest has 64 lowercase hex characters');
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw new InvalidReferenceError(input, `bad tag "${tag}"`);
  }

  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!HOST.test(first)) throw new InvalidReferenceError(input, `bad registry host "${first}"`);
    registry = normalizeRegistryHost(first);
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => p.length === 0)) throw new InvalidReferenceError(input, 'empty path component');
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      throw new InvalidReferenceError(input, /[A-Z]/.test(p) ? `repository "${p}" must be lowercase` : `bad path component "${p}"`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw new InvalidReferenceError(input, 'repository name longer than 255 characters');

  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest, name: formatReference(registry, repository, tag, digest) };
}

export function formatReference(registry: string, repository: string, tag?: string, digest?: string): string {
  let s = `${registry}/${repository}`;
  if (tag !== undefined) s += `:${tag}`;
  if (digest !== undefined) s += `@${digest}`;
  return s;
}

/** The same repository with another tag (used for watchRepo). */
export function withTag(ref: ImageReference, tag: string): ImageReference {
  return { registry: ref.registry, repository: ref.repository, tag, name: formatReference(ref.registry, ref.repository, tag) };
}

/** What watchRepo lists and the store keeps tag lists by: `registry/repository`, without tag or digest. */
export function repositoryKey(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}
