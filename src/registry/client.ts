/**
 * The registry client: manifests (HEAD first, GET when needed), blobs, tags, with the Docker token
 * flow. One object lives for the whole `serve`, so pings, tokens and connections are shared by
 * every image and every run.
 *
 * Request budget: the first request to a registry costs a ping (GET /v2/) and, for bearer
 * registries, a token request per repository scope; after that a check of an unchanged image is
 * exactly one HEAD until its token expires.
 */
import { createHash } from 'node:crypto';
import type { RegistryConfig } from '../config/schema.js';
import { RegistryError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { basicAuthorization, CredentialStore, TokenCache, type Credentials } from './auth.js';
import { challengeScopes, chooseChallenge, parseWwwAuthenticate, pullScope, type Challenge } from './challenge.js';
import { formatMs, oneLine, parseRetryAfter, Transport, type ConnectionProfile, type HttpRequest, type HttpResponse, type RequestEvent, type RequestKind } from './http.js';
import { isManifestMediaType, MANIFEST_ACCEPT, mediaTypeOfDocument, parseImageConfig, stripMediaTypeParams, type ImageConfigInfo } from './manifest.js';
import { apiHost, type ImageReference } from './reference.js';
import type { Dispatcher } from 'undici';

export type { RequestEvent, RequestKind } from './http.js';

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
  /** Default 16 MiB (config blobs; also the tag list). */
  maxBlobBytes?: number;
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

const TOKEN_MAX_BYTES = 1024 * 1024;
const PING_MAX_BYTES = 64 * 1024;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** What a registry's /v2/ said about auth; cached per origin for the client's lifetime. */
interface PingResult {
  challenge?: Challenge;
}

/** Everything needed to talk to one repository. */
interface Target {
  ref: ImageReference;
  registry: string;
  repository: string;
  origin: string;
  profile: ConnectionProfile;
  entry?: RegistryConfig;
}

interface Authorization {
  header?: string;
  /** The token was fetched for this request (a 401 then means bad credentials, not an expired token). */
  fresh: boolean;
  credentials?: Credentials;
}

export class RegistryClient {
  private readonly transport: Transport;
  private readonly credentials: CredentialStore;
  private readonly tokens: TokenCache;
  private readonly pings = new Map<string, Promise<PingResult>>();
  private readonly tokenRequests = new Map<string, Promise<string>>();
  private readonly logger: Logger;
  private readonly defaultTimeoutMs: number;
  private readonly maxManifestBytes: number;
  private readonly maxBlobBytes: number;

  constructor(opts: RegistryClientOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.transport = new Transport({
      logger: this.logger,
      retries: opts.retries,
      retryBaseMs: opts.retryBaseMs,
      maxRetryAfterMs: opts.maxRetryAfterMs,
      onRequest: opts.onRequest,
      dispatcher: opts.dispatcher,
    });
    this.credentials = new CredentialStore({ registries: opts.registries, dockerConfigPath: opts.dockerConfigPath, logger: this.logger, now: opts.now });
    this.tokens = new TokenCache(opts.now);
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 15_000;
    this.maxManifestBytes = opts.maxManifestBytes ?? 4 * 1024 * 1024;
    this.maxBlobBytes = opts.maxBlobBytes ?? 16 * 1024 * 1024;
  }

  async headManifest(ref: ImageReference, reference?: string): Promise<ManifestHead> {
    const target = this.target(ref);
    const refName = reference ?? ref.digest ?? ref.tag ?? 'latest';
    const subject = subjectOf(ref, refName);
    const res = await this.authorized(target, {
      url: this.url(target, `manifests/${refName}`),
      method: 'HEAD',
      headers: { accept: MANIFEST_ACCEPT },
      kind: 'head',
      subject,
      maxBytes: 0,
      // A 500 on HEAD is often a missing manifest (quirk 14): go to GET for a clear answer instead of retrying.
      retryStatus: (s) => s === 429 || s === 502 || s === 503 || s === 504,
    });
    if (res.status === 200) {
      const digest = res.headers['docker-content-digest']?.trim();
      const mediaType = stripMediaTypeParams(res.headers['content-type'] ?? '');
      const length = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;
      if (digest !== undefined && DIGEST.test(digest) && isManifestMediaType(mediaType)) {
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
    const res = await this.authorized(target, {
      url: this.url(target, `manifests/${reference}`),
      method: 'GET',
      headers: { accept: MANIFEST_ACCEPT },
      kind: 'manifest',
      subject,
      maxBytes: this.maxManifestBytes,
    });
    if (res.status !== 200) throw statusError(subject, res, 'manifest');
    const body = res.body;
    const headerDigest = res.headers['docker-content-digest']?.trim();
    const expected = DIGEST.test(reference) ? reference : headerDigest !== undefined && DIGEST.test(headerDigest) ? headerDigest : undefined;
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
    if (!DIGEST.test(digest)) throw new RegistryError(`${subject}: invalid blob digest "${oneLine(digest, 80)}"`);
    const target = this.target(ref);
    const res = await this.authorized(target, {
      url: this.url(target, `blobs/${digest}`),
      method: 'GET',
      headers: {},
      kind: 'blob',
      subject,
      maxBytes: this.maxBlobBytes,
      followRedirects: true,
    });
    if (res.status !== 200) throw statusError(`${subject}: blob ${shortDigest(digest)}`, res, 'blob');
    const actual = digestOf(res.body, algorithmOf(digest));
    if (actual !== digest) throw new RegistryError(`${subject}: blob digest mismatch (expected ${digest}, got ${actual})`);
    return res.body;
  }

  async getImageConfig(ref: ImageReference, configDigest: string): Promise<ImageConfigInfo> {
    const blob = await this.getBlob(ref, configDigest);
    try {
      return parseImageConfig(blob);
    } catch (err) {
      throw new RegistryError(`${ref.name}: ${(err as Error).message}`);
    }
  }

  async listTags(ref: ImageReference): Promise<string[]> {
    const target = this.target(ref);
    const subject = `${ref.registry}/${ref.repository}`;
    const res = await this.authorized(target, {
      url: this.url(target, 'tags/list'),
      method: 'GET',
      headers: { accept: 'application/json' },
      kind: 'tags',
      subject,
      maxBytes: this.maxBlobBytes,
    });
    if (res.status !== 200) throw statusError(subject, res, 'tags');
    let doc: unknown;
    try {
      doc = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RegistryError(`${subject}: tag list is not valid JSON`);
    }
    if (typeof doc !== 'object' || doc === null) throw new RegistryError(`${subject}: malformed tag list`);
    const tags = (doc as { tags?: unknown }).tags;
    if (tags === null || tags === undefined) return [];
    if (!Array.isArray(tags)) throw new RegistryError(`${subject}: malformed tag list`);
    return tags.filter((t): t is string => typeof t === 'string');
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  // -------------------------------------------------------------------------------------------

  private target(ref: ImageReference): Target {
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

  private pingKey(target: Target): string {
    return `${target.origin}|${target.profile.caFile ?? ''}`;
  }

  /** GET /v2/ once per registry origin; the challenge it gives is reused for the client's lifetime. */
  private ping(target: Target): Promise<PingResult> {
    const key = this.pingKey(target);
    let pending = this.pings.get(key);
    if (!pending) {
      pending = this.doPing(target);
      this.pings.set(key, pending);
      pending.catch(() => this.pings.delete(key)); // a failed ping is retried on the next request
    }
    return pending;
  }

  private async doPing(target: Target): Promise<PingResult> {
    const res = await this.transport.send({
      url: new URL(`${target.origin}/v2/`),
      method: 'GET',
      headers: {},
      kind: 'ping',
      registry: target.registry,
      subject: target.registry,
      profile: target.profile,
      maxBytes: PING_MAX_BYTES,
    });
    if (res.status === 401) {
      const challenge = chooseChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
      if (!challenge) this.logger.debug({ registry: target.registry, header: res.headers['www-authenticate'] ?? null }, 'no usable auth challenge; trying anonymously');
      return challenge ? { challenge } : {};
    }
    if (res.status >= 500 || res.status === 429) throw statusError(target.registry, res, 'ping');
    // 200, or a registry without /v2/ at all (404): no auth up front; a later 401 brings its challenge.
    return {};
  }

  /** Sends a request for a repository with the auth its registry asks for, handling one round of 401s. */
  private async authorized(target: Target, req: Omit<HttpRequest, 'registry' | 'profile'>): Promise<HttpResponse> {
    const scope = pullScope(target.repository);
    const ping = await this.ping(target);
    let auth = await this.authorize(target, ping.challenge, [scope], false, req.subject);
    const full: HttpRequest = { ...req, registry: target.registry, profile: target.profile };
    const send = (a: Authorization): Promise<HttpResponse> =>
      this.transport.send({ ...full, headers: a.header !== undefined ? { ...req.headers, authorization: a.header } : req.headers });

    const res = await send(auth);
    if (res.status !== 401) return res;

    const challenge = chooseChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
    const scheme = challenge?.scheme;
    if (!challenge) throw unauthorized(req.subject, target, auth.credentials);
    if (!ping.challenge || ping.challenge.scheme !== scheme) {
      // The registry now asks for auth it did not announce on /v2/ (or changed scheme): remember and retry once.
      this.pings.set(this.pingKey(target), Promise.resolve({ challenge }));
      auth = await this.authorize(target, challenge, [scope], true, req.subject);
    } else if (scheme === 'bearer') {
      const wanted = challenge.params.error === 'insufficient_scope' ? challengeScopes(challenge) : [];
      const differentScope = wanted.length > 0 && !(wanted.length === 1 && wanted[0] === scope);
      if (differentScope) {
        auth = await this.authorize(target, challenge, wanted, true, req.subject);
        // Later requests for this repository start from the scope that worked.
        this.tokens.alias(this.tokenKey(target, challenge, wanted), this.tokenKey(target, challenge, [scope]));
      } else if (!auth.fresh) {
        // The cached token may have been revoked early: one fresh token, then give up.
        this.tokens.delete(this.tokenKey(target, challenge, [scope]));
        auth = await this.authorize(target, challenge, [scope], true, req.subject);
      } else {
        // Harbor hands out tokens for wrong credentials; the 401 comes here.
        throw unauthorized(req.subject, target, auth.credentials);
      }
    } else {
      throw unauthorized(req.subject, target, auth.credentials);
    }
    const retried = await send(auth);
    if (retried.status === 401) throw unauthorized(req.subject, target, auth.credentials);
    return retried;
  }

  private tokenKey(target: Target, challenge: Challenge, scopes: string[]): string {
    return `${target.origin}|${challenge.params.realm ?? ''}|${challenge.params.service ?? ''}|${scopes.join(' ')}`;
  }

  private async authorize(target: Target, challenge: Challenge | undefined, scopes: string[], forceFresh: boolean, subject: string): Promise<Authorization> {
    if (!challenge) return { fresh: false };
    if (challenge.scheme === 'basic') {
      // Basic realms are labels ("Artifactory Realm"), not URLs: send the credentials directly.
      const credentials = await this.credentials.lookup(target.registry, target.repository);
      return credentials ? { header: basicAuthorization(credentials), fresh: false, credentials } : { fresh: false };
    }
    const key = this.tokenKey(target, challenge, scopes);
    if (!forceFresh) {
      const cached = this.tokens.get(key);
      if (cached !== undefined) return { header: `Bearer ${cached}`, fresh: false };
    }
    const credentials = await this.credentials.lookup(target.registry, target.repository);
    let pending = this.tokenRequests.get(key);
    if (!pending) {
      pending = this.fetchToken(target, challenge, scopes, credentials, key, subject).finally(() => this.tokenRequests.delete(key));
      this.tokenRequests.set(key, pending);
    }
    const token = await pending;
    const auth: Authorization = { header: `Bearer ${token}`, fresh: true };
    if (credentials) auth.credentials = credentials;
    return auth;
  }

  private async fetchToken(target: Target, challenge: Challenge, scopes: string[], credentials: Credentials | undefined, key: string, subject: string): Promise<string> {
    const realmText = challenge.params.realm ?? '';
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new RegistryError(`${subject}: the registry's token realm "${oneLine(realmText, 100)}" is not a URL`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new RegistryError(`${subject}: unsupported token realm scheme ${realm.protocol}`);
    if (realm.protocol === 'http:' && credentials && !target.profile.insecure) {
      throw new RegistryError(`${subject}: refusing to send credentials to the plain-http token realm ${realm.host} (mark the registry insecure to allow it)`);
    }
    if (challenge.params.service !== undefined && challenge.params.service.length > 0) realm.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credentials) headers.authorization = basicAuthorization(credentials);

    const res = await this.transport.send({
      url: realm,
      method: 'GET',
      headers,
      kind: 'token',
      registry: target.registry,
      subject,
      profile: target.profile,
      maxBytes: TOKEN_MAX_BYTES,
    });
    if (res.status === 401 || res.status === 403) throw unauthorized(subject, target, credentials, res.status);
    if (res.status !== 200) throw statusError(`${subject}: token request to ${realm.host}`, res, 'token');
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      doc = JSON.parse(res.body.toString('utf8')) as typeof doc;
    } catch {
      throw new RegistryError(`${subject}: token response from ${realm.host} is not JSON`);
    }
    const token = typeof doc.token === 'string' && doc.token.length > 0 ? doc.token : typeof doc.access_token === 'string' && doc.access_token.length > 0 ? doc.access_token : undefined;
    if (token === undefined) throw new RegistryError(`${subject}: token response from ${realm.host} has no token`);
    const expiresIn = typeof doc.expires_in === 'number' ? doc.expires_in : undefined;
    this.tokens.set(key, token, expiresIn);
    return token;
  }
}

// ---------------------------------------------------------------------------------------------

function subjectOf(ref: ImageReference, reference: string): string {
  if (reference === ref.tag || reference === ref.digest) return ref.name;
  return DIGEST.test(reference) || reference.includes(':') ? `${ref.registry}/${ref.repository}@${reference}` : `${ref.registry}/${ref.repository}:${reference}`;
}

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256';
}

function digestOf(body: Buffer, algorithm: 'sha256' | 'sha512'): string {
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
}

function shortDigest(digest: string): string {
  return digest.length > 19 ? digest.slice(0, 19) : digest;
}

function unauthorized(subject: string, target: Target, credentials: Credentials | undefined, status = 401): RegistryError {
  const what = status === 403 ? 'denied (403)' : 'unauthorized (401)';
  const hint = credentials
    ? `check the credentials for ${target.registry} (${credentials.source})`
    : `no credentials for ${target.registry}; add a registries entry or docker login (or the repository does not exist)`;
  return new RegistryError(`${subject}: ${what}: ${hint}`, { status });
}

/** A registry's error body ({"errors":[{"code","message"}]}) as a short phrase. */
function registryErrorText(res: HttpResponse): string | undefined {
  const type = res.headers['content-type'] ?? '';
  if (res.body.length === 0 || !/json/i.test(type)) return undefined;
  try {
    const doc = JSON.parse(res.body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(doc.errors) ? doc.errors[0] : undefined;
    if (!first) return undefined;
    if (typeof first.message === 'string' && first.message.length > 0) return oneLine(first.message, 120);
    if (typeof first.code === 'string') return first.code.toLowerCase().replace(/_/g, ' ');
  } catch {
    // not the OCI error shape
  }
  return undefined;
}

function statusError(subject: string, res: HttpResponse, what: 'manifest' | 'blob' | 'tags' | 'token' | 'ping'): RegistryError {
  const status = res.status;
  const text = registryErrorText(res);
  if (status === 429) {
    const retryAfter = parseRetryAfter(res.headers['retry-after']);
    const after = retryAfter !== undefined ? `, retry after ${formatMs(retryAfter)}` : '';
    const opts: { status: number; retryable: boolean; retryAfterMs?: number } = { status, retryable: true };
    if (retryAfter !== undefined) opts.retryAfterMs = retryAfter;
    return new RegistryError(`${subject}: rate limited (429)${after}`, opts);
  }
  if (status === 404) {
    const fallback = what === 'manifest' ? 'manifest unknown' : what === 'blob' ? 'blob unknown' : what === 'tags' ? 'repository unknown' : 'not found';
    return new RegistryError(`${subject}: ${text ?? fallback} (404)`, { status });
  }
  if (status === 403) return new RegistryError(`${subject}: denied (403)${text ? `: ${text}` : ''}`, { status });
  if (status >= 500) {
    return new RegistryError(`${subject}: ${text ?? 'server error'} (${status})`, { status, retryable: true });
  }
  return new RegistryError(`${subject}: unexpected response ${status}${text ? `: ${text}` : ''}`, { status });
}
