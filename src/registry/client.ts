/**
 * The registry client: manifests (HEAD first, GET when needed), blobs, tags, with the Docker token
 * flow. One object lives for the whole `serve`, so pings, tokens and connections are shared by
 * every image and every run.
 *
 * Request budget: the first request to a registry costs a ping (GET /v2/) and, for bearer
 * registries, a token request per repository scope; after that a check of an unchanged image is
 * exactly one HEAD until its token expires.
 */
import { isVerifiableDigest, shortDigest } from '../model/digest.js';
import { createHash } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { RegistryConfig } from '../config/schema.js';
import { RegistryError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { CredentialStore, TokenCache } from './auth.js';
import { oneLine } from '../util/text.js';
import { Transport, type ConnectionProfile, type RequestEvent } from './http.js';
import { isManifestMediaType, MANIFEST_ACCEPT, mediaTypeOfDocument, parseImageConfig, stripMediaTypeParams, type ImageConfigBlob } from './manifest.js';
import { apiHost, type ImageReference } from '../model/reference.js';
import { RateLimits, type RateLimitInfo } from './ratelimit.js';
import { AuthSession, type ChallengeCache, type PrepareSummary, type RepositoryEndpoint } from './session.js';
import { statusError } from './status.js';
import { pingKeyOf } from './pings.js';
import { pullScope } from './challenge.js';
import { MAX_TAG_PAGES, readTagPages, TAG_PAGE_SIZE, type TagListing } from './tags.js';

export type { RequestEvent, RequestKind } from './http.js';
export type { RateLimitInfo } from './ratelimit.js';
export type { ChallengeCache, PrepareSummary } from './session.js';
export type { TagListing } from './tags.js';

/** Some registries answer a HEAD of a missing manifest with 500: GET gives a clear answer, so a 500 is not retried. */
const HEAD_RETRY_STATUS = (s: number): boolean => s === 429 || s === 502 || s === 503 || s === 504;
/** Every manifest request sends the same Accept header: one shared headers object (never modified). */
const MANIFEST_HEADERS: Readonly<Record<string, string>> = Object.freeze({ accept: MANIFEST_ACCEPT });
/** The same for tag pages and blobs. */
const TAG_HEADERS: Readonly<Record<string, string>> = Object.freeze({ accept: 'application/json' });
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

export interface RegistryClientOptions {
  /** Per-host settings; `host` may be 'host[:port]' or 'host[:port]/path/prefix' (longest prefix wins). */
  registries?: RegistryConfig[];
  /** Default $DOCKER_CONFIG/config.json or ~/.docker/config.json; read lazily once. */
  dockerConfigPath?: string;
  logger?: Logger;
  /** Retries on 5xx/429/network errors per request, default 2. */
  retries?: number;
  /** Backoff base, default 500 ms (exponential with jitter). */
  retryBaseMs?: number;
  /** Default 30 s; a longer Retry-After fails the request (retryable, retryAfterMs set) instead of waiting. */
  maxRetryAfterMs?: number;
  /** Per-request timeout when no registries entry applies: 15 s. */
  defaultTimeoutMs?: number;
  /** Default 4 MiB. */
  maxManifestBytes?: number;
  /** Default 16 MiB (config blobs; also each page of a tag list). */
  maxBlobBytes?: number;
  /** Tags asked for per page (`n`), default 1000 (ECR's maximum). */
  tagPageSize?: number;
  /** Pages read at most per tag listing, default 100; more is logged and the listing marked incomplete. */
  maxTagPages?: number;
  onRequest?: (e: RequestEvent) => void;
  /** Where each registry's auth challenge is remembered between processes (the store): a fresh one saves the ping. */
  challenges?: ChallengeCache;
  /** Addition: route every request through this dispatcher (tests with undici's MockAgent). */
  dispatcher?: Dispatcher;
  /** Addition: clock for token expiry (tests). */
  now?: () => number;
}

export interface ManifestDoc {
  digest: string;
  mediaType: string;
  json: unknown;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  /** Set when the GET fallback was used (no digest header). */
  manifest?: ManifestDoc;
}

export class RegistryClient {
  private readonly transport: Transport;
  private readonly credentials: CredentialStore;
  private readonly session: AuthSession;
  private readonly limits: RateLimits;
  private readonly endpoints = new Map<string, RepositoryEndpoint>();
  private readonly endpointOf = new WeakMap<ImageReference, RepositoryEndpoint>();
  private readonly logger: Logger;
  private readonly defaultTimeoutMs: number;
  private readonly maxManifestBytes: number;
  private readonly maxBlobBytes: number;
  private readonly tagPageSize: number;
  private readonly maxTagPages: number;

  constructor(opts: RegistryClientOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.limits = new RateLimits(opts.now);
    this.transport = new Transport({
      rateLimits: this.limits,
      logger: this.logger,
      retries: opts.retries,
      retryBaseMs: opts.retryBaseMs,
      maxRetryAfterMs: opts.maxRetryAfterMs,
      onRequest: opts.onRequest,
      dispatcher: opts.dispatcher,
    });
    this.credentials = new CredentialStore({ registries: opts.registries, dockerConfigPath: opts.dockerConfigPath, logger: this.logger, now: opts.now });
    this.session = new AuthSession(this.transport, this.credentials, new TokenCache(opts.now), this.logger, opts.challenges, opts.now);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 15_000;
    this.maxManifestBytes = opts.maxManifestBytes ?? 4 * 1024 * 1024;
    this.maxBlobBytes = opts.maxBlobBytes ?? 16 * 1024 * 1024;
    this.tagPageSize = opts.tagPageSize ?? TAG_PAGE_SIZE;
    this.maxTagPages = opts.maxTagPages ?? MAX_TAG_PAGES;
  }

  async headManifest(ref: ImageReference, reference?: string): Promise<ManifestHead> {
    const endpoint = this.endpoint(ref);
    const refName = reference ?? ref.digest ?? ref.tag ?? 'latest';
    const subject = subjectOf(ref, refName);
    const res = await this.session.authorized(endpoint, {
      path: manifestPath(endpoint, subject, refName),
      method: 'HEAD',
      headers: MANIFEST_HEADERS,
      kind: 'head',
      subject,
      maxBytes: 0,
      retryStatus: HEAD_RETRY_STATUS,
    });
    if (res.status === 200) {
      const digest = res.headers['docker-content-digest']?.trim();
      const mediaType = stripMediaTypeParams(res.headers['content-type'] ?? '');
      if (digest !== undefined && isVerifiableDigest(digest) && isManifestMediaType(mediaType)) return { digest, mediaType };
      this.logger.debug({ image: subject, digest: digest ?? null, mediaType }, 'HEAD without a usable digest or media type; falling back to GET');
    } else if (res.status === 404) {
      throw new RegistryError(`${subject}: manifest unknown (404)`, { status: 404 });
    } else if (res.status !== 500 && res.status !== 405) {
      // 500: often a missing manifest; 405: a proxy without HEAD. GET gives the real answer.
      throw statusError(subject, res, 'manifest');
    }
    const manifest = await this.getManifest(ref, refName);
    return { digest: manifest.digest, mediaType: manifest.mediaType, manifest };
  }

  async getManifest(ref: ImageReference, reference: string): Promise<ManifestDoc> {
    const endpoint = this.endpoint(ref);
    const subject = subjectOf(ref, reference);
    const res = await this.session.authorized(endpoint, {
      path: manifestPath(endpoint, subject, reference),
      method: 'GET',
      headers: MANIFEST_HEADERS,
      kind: 'manifest',
      subject,
      maxBytes: this.maxManifestBytes,
    });
    if (res.status !== 200) throw statusError(subject, res, 'manifest');
    const body = res.body;
    const headerDigest = res.headers['docker-content-digest']?.trim();
    const expected = isVerifiableDigest(reference) ? reference : headerDigest !== undefined && isVerifiableDigest(headerDigest) ? headerDigest : undefined;
    const digest = expected !== undefined ? digestOf(body, algorithmOf(expected)) : digestOf(body, 'sha256');
    if (expected !== undefined && digest !== expected) {
      throw new RegistryError(`${subject}: manifest digest mismatch (expected ${expected}, got ${digest})`);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RegistryError(`${subject}: manifest is not valid JSON`);
    }
    const headerType = stripMediaTypeParams(res.headers['content-type'] ?? '');
    const mediaType = isManifestMediaType(headerType) ? headerType : (mediaTypeOfDocument(json) ?? headerType);
    return { digest, mediaType, json };
  }

  async getBlob(ref: ImageReference, digest: string): Promise<Buffer> {
    const subject = ref.name;
    if (!isVerifiableDigest(digest)) throw new RegistryError(`${subject}: invalid blob digest "${oneLine(digest, 80)}"`);
    const endpoint = this.endpoint(ref);
    const res = await this.session.authorized(endpoint, {
      path: `${endpoint.apiPath}blobs/${digest}`,
      method: 'GET',
      headers: NO_HEADERS,
      kind: 'blob',
      subject,
      maxBytes: this.maxBlobBytes,
      followRedirects: true,
    });
    if (res.status !== 200) throw statusError(`${subject}: blob ${shortDigest(digest, true)}`, res, 'blob');
    const actual = digestOf(res.body, algorithmOf(digest));
    if (actual !== digest) throw new RegistryError(`${subject}: blob digest mismatch (expected ${digest}, got ${actual})`);
    return res.body;
  }

  async getImageConfig(ref: ImageReference, configDigest: string): Promise<ImageConfigBlob> {
    const blob = await this.getBlob(ref, configDigest);
    try {
      return parseImageConfig(blob);
    } catch (err) {
      throw new RegistryError(`${ref.name}: ${(err as Error).message}`);
    }
  }

  /**
   * Every tag of the repository, following Link pagination (see tags.ts). The pages go through the
   * same auth session and pull scope as the manifest requests, so one token serves both.
   */
  async listTags(ref: ImageReference): Promise<TagListing> {
    const endpoint = this.endpoint(ref);
    const subject = `${ref.registry}/${ref.repository}`;
    return readTagPages({
      first: `${endpoint.apiPath}tags/list?n=${this.tagPageSize}`,
      origin: endpoint.origin,
      subject,
      pageSize: this.tagPageSize,
      maxPages: this.maxTagPages,
      logger: this.logger,
      fetchPage: (path) => this.session.authorized(endpoint, { path, method: 'GET', headers: TAG_HEADERS, kind: 'tags', subject, maxBytes: this.maxBlobBytes }),
    });
  }

  /**
   * Call before checking `refs`: pings each registry once and fetches the bearer tokens they need
   * in a few requests with many scopes each (see AuthSession.prepare). Tokens still cached are
   * reused, so in `serve` a warm run sends nothing here. Never throws.
   */
  async prepare(refs: readonly ImageReference[]): Promise<PrepareSummary> {
    const endpoints = new Map<string, RepositoryEndpoint>();
    for (const ref of refs) {
      const key = `${ref.registry}/${ref.repository}`;
      if (!endpoints.has(key)) endpoints.set(key, this.endpoint(ref));
    }
    return this.session.prepare([...endpoints.values()]);
  }

  /** What one registry last said about its rate limit (RateLimit-* headers, 429s): the run's budget reads it between checks. */
  rateLimit(registry: string): Readonly<RateLimitInfo> | undefined {
    return this.limits.get(registry);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Where and how to reach a repository. Cached per repository for the client's lifetime (its
   * registries entries are fixed): every request needs it, and matching entries is not free.
   */
  private endpoint(ref: ImageReference): RepositoryEndpoint {
    // References are shared, read-only objects (parseReference keeps them): most requests find theirs by identity.
    const known = this.endpointOf.get(ref);
    if (known !== undefined) return known;
    const endpoint = this.endpointByName(ref);
    this.endpointOf.set(ref, endpoint);
    return endpoint;
  }

  private endpointByName(ref: ImageReference): RepositoryEndpoint {
    const key = `${ref.registry}/${ref.repository}`;
    let endpoint = this.endpoints.get(key);
    if (endpoint === undefined) {
      endpoint = this.makeEndpoint(ref);
      this.endpoints.set(key, endpoint);
    }
    return endpoint;
  }

  private makeEndpoint(ref: ImageReference): RepositoryEndpoint {
    const entry = this.credentials.entryFor(ref.registry, ref.repository);
    const insecure = entry?.insecure ?? false;
    const profile: ConnectionProfile = { insecure, timeoutMs: entry?.timeout ?? this.defaultTimeoutMs };
    if (entry?.caFile !== undefined) profile.caFile = entry.caFile;
    const origin = `${insecure ? 'http' : 'https'}://${apiHost(ref.registry)}`;
    return {
      registry: ref.registry,
      repository: ref.repository,
      origin,
      profile,
      apiPath: `/v2/${ref.repository}/`,
      pingKey: pingKeyOf(origin, profile.caFile),
      scope: pullScope(ref.repository),
    };
  }

}

// ---------------------------------------------------------------------------------------------

/**
 * A tag or digest goes into the path as it is (no URL object per request): anything but the
 * characters tags and digests are made of (a digest from a broken index, say) is refused here
 * rather than sent.
 */
const REFERENCE_CHARS = /^[\w.:+=-]+$/;

function manifestPath(endpoint: RepositoryEndpoint, subject: string, reference: string): string {
  if (!REFERENCE_CHARS.test(reference)) throw new RegistryError(`${subject}: invalid manifest reference "${oneLine(reference, 80)}"`);
  return `${endpoint.apiPath}manifests/${reference}`;
}

function subjectOf(ref: ImageReference, reference: string): string {
  if (reference === ref.tag || reference === ref.digest) return ref.name;
  return isVerifiableDigest(reference) || reference.includes(':') ? `${ref.registry}/${ref.repository}@${reference}` : `${ref.registry}/${ref.repository}:${reference}`;
}

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

function digestOf(body: Buffer, algorithm: 'sha256' | 'sha512'): string {
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
}

