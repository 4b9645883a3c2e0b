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
import { AuthSession, type PrepareSummary, type Target } from './session.js';
import { statusError } from './status.js';
import { MAX_TAG_PAGES, readTagPages, TAG_PAGE_SIZE, type TagListing } from './tags.js';

export type { RequestEvent, RequestKind } from './http.js';
export type { RateLimitInfo } from './ratelimit.js';
export type { PrepareSummary } from './session.js';
export type { TagListing } from './tags.js';

/** A 500 on HEAD is often a missing manifest (quirk 14): go to GET for a clear answer instead of retrying. */
const HEAD_RETRY_STATUS = (s: number): boolean => s === 429 || s === 502 || s === 503 || s === 504;
/** Every manifest request sends the same Accept header: one shared headers object (never modified). */
const MANIFEST_HEADERS: Readonly<Record<string, string>> = Object.freeze({ accept: MANIFEST_ACCEPT });

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
  /** Addition: route every request through this dispatcher (tests with undici's MockAgent). */
  dispatcher?: Dispatcher;
  /** Addition: clock for token expiry (tests). */
  now?: () => number;
}

export interface ManifestDoc {
  digest: string;
  mediaType: string;
  size: number;
  body: Buffer;
  json: unknown;
}

export interface ManifestHead {
  digest: string;
  mediaType: string;
  size?: number;
  /** Set when the GET fallback was used (no digest header). */
  manifest?: ManifestDoc;
}

export class RegistryClient {
  private readonly transport: Transport;
  private readonly credentials: CredentialStore;
  private readonly session: AuthSession;
  private readonly limits: RateLimits;
  private readonly targets = new Map<string, Target>();
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
    this.session = new AuthSession(this.transport, this.credentials, new TokenCache(opts.now), this.logger);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 15_000;
    this.maxManifestBytes = opts.maxManifestBytes ?? 4 * 1024 * 1024;
    this.maxBlobBytes = opts.maxBlobBytes ?? 16 * 1024 * 1024;
    this.tagPageSize = opts.tagPageSize ?? TAG_PAGE_SIZE;
    this.maxTagPages = opts.maxTagPages ?? MAX_TAG_PAGES;
  }

  async headManifest(ref: ImageReference, reference?: string): Promise<ManifestHead> {
    const target = this.target(ref);
    const refName = reference ?? ref.digest ?? ref.tag ?? 'latest';
    const subject = subjectOf(ref, refName);
    const res = await this.session.authorized(target, {
      url: this.url(target, `manifests/${refName}`),
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
      const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
      if (digest !== undefined && isVerifiableDigest(digest) && isManifestMediaType(mediaType)) {
        const head: ManifestHead = { digest, mediaType };
        if (length !== undefined && Number.isInteger(length) && length >= 0) head.size = length;
        return head;
      }
      this.logger.debug({ image: subject, digest: digest ?? null, mediaType }, 'HEAD without a usable digest or media type; falling back to GET');
    } else if (res.status === 404) {
      throw new RegistryError(`${subject}: manifest unknown (404)`, { status: 404 });
    } else if (res.status !== 500 && res.status !== 405) {
      // 500: often a missing manifest (quirk 14); 405: a proxy without HEAD. GET gives the real answer.
      throw statusError(subject, res, 'manifest');
    }
    const manifest = await this.getManifest(ref, refName);
    return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size, manifest };
  }

  async getManifest(ref: ImageReference, reference: string): Promise<ManifestDoc> {
    const target = this.target(ref);
    const subject = subjectOf(ref, reference);
    const res = await this.session.authorized(target, {
      url: this.url(target, `manifests/${reference}`),
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
    return { digest, mediaType, size: body.length, body, json };
  }

  async getBlob(ref: ImageReference, digest: string): Promise<Buffer> {
    const subject = ref.name;
    if (!isVerifiableDigest(digest)) throw new RegistryError(`${subject}: invalid blob digest "${oneLine(digest, 80)}"`);
    const target = this.target(ref);
    const res = await this.session.authorized(target, {
      url: this.url(target, `blobs/${digest}`),
      method: 'GET',
      headers: {},
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
    const target = this.target(ref);
    const subject = `${ref.registry}/${ref.repository}`;
    const first = this.url(target, 'tags/list');
    first.searchParams.set('n', String(this.tagPageSize));
    return readTagPages({
      first,
      origin: target.origin,
      subject,
      pageSize: this.tagPageSize,
      maxPages: this.maxTagPages,
      logger: this.logger,
      fetchPage: (url) =>
        this.session.authorized(target, { url, method: 'GET', headers: { accept: 'application/json' }, kind: 'tags', subject, maxBytes: this.maxBlobBytes }),
    });
  }

  /**
   * Call before checking `refs`: pings each registry once and fetches the bearer tokens they need
   * in a few requests with many scopes each (see AuthSession.prepare). Tokens still cached are
   * reused, so in `serve` a warm run sends nothing here. Never throws.
   */
  async prepare(refs: readonly ImageReference[]): Promise<PrepareSummary> {
    const targets = new Map<string, Target>();
    for (const ref of refs) {
      const key = `${ref.registry}/${ref.repository}`;
      if (!targets.has(key)) targets.set(key, this.target(ref));
    }
    return this.session.prepare([...targets.values()]);
  }

  /**
   * What each registry said about its rate limit (RateLimit-Remaining/-Limit, 429s), keyed by
   * registry name ('docker.io'). A copy: safe to keep or change.
   */
  rateLimits(): Map<string, RateLimitInfo> {
    return this.limits.snapshot();
  }

  /** The live figures of one registry, as the run loop reads them between checks. */
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
  private target(ref: ImageReference): Target {
    const key = `${ref.registry}/${ref.repository}`;
    let target = this.targets.get(key);
    if (target === undefined) {
      target = this.makeTarget(ref);
      this.targets.set(key, target);
    }
    return target;
  }

  private makeTarget(ref: ImageReference): Target {
    const entry = this.credentials.entryFor(ref.registry, ref.repository);
    const insecure = entry?.insecure ?? false;
    const profile: ConnectionProfile = { insecure, timeoutMs: entry?.timeout ?? this.defaultTimeoutMs };
    if (entry?.caFile !== undefined) profile.caFile = entry.caFile;
    const target: Target = {
      ref,
      registry: ref.registry,
      repository: ref.repository,
      origin: `${insecure ? 'http' : 'https'}://${apiHost(ref.registry)}`,
      profile,
    };
    if (entry) target.entry = entry;
    return target;
  }

  private url(target: Target, path: string): URL {
    return new URL(`${target.origin}/v2/${target.repository}/${path}`);
  }

}

// ---------------------------------------------------------------------------------------------

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

