/**
 * The transport under the registry client: keep-alive connections per connection profile (TLS
 * settings + timeout; connections.ts), size-limited bodies, redirects without leaking Authorization, retries
 * with backoff and Retry-After, request events and debug logs. It knows nothing about auth flows.
 */
import { oneLine } from '../util/text.js';
import { parseRetryAfter } from '../util/http.js';
import { formatDuration } from '../util/duration.js';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { RegistryError, errorMessage } from '../util/errors.js';
import { maskUrlCredentials, silentLogger, type Logger } from '../util/log.js';
import { userAgent } from '../util/version.js';
import { parseRateLimitHeader, type RateLimits } from './ratelimit.js';
import { exchange, type ExchangeObserver, type ExchangeOptions } from './exchange.js';
import { Connections } from './connections.js';

export type RequestKind = 'ping' | 'token' | 'head' | 'manifest' | 'blob' | 'tags';

export interface RequestEvent {
  registry: string;
  kind: RequestKind;
  status: number | 'error';
  durationMs: number;
  rateLimitRemaining?: number;
}

/** How to connect to an origin: from the registries entry, or defaults. */
export interface ConnectionProfile {
  insecure: boolean;
  caFile?: string;
  timeoutMs: number;
}

export interface HttpRequest {
  /** 'https://host[:port]': where the request goes. */
  origin: string;
  /** Path and query, '/v2/…'. Two strings, not a URL: a URL object and its getters cost more per request than the rest of the transport's own work. */
  path: string;
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  kind: RequestKind;
  /** Registry name for events ('docker.io', '127.0.0.1:5000'). */
  registry: string;
  /** Prefix of error messages: the image or registry the request is for. */
  subject: string;
  profile: ConnectionProfile;
  /** Reading past this many bytes aborts the response. */
  maxBytes: number;
  followRedirects?: boolean;
  /** Which statuses get another attempt; default 429 and 5xx. */
  retryStatus?: (status: number) => boolean;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface TransportOptions {
  logger?: Logger;
  retries?: number;
  retryBaseMs?: number;
  maxRetryAfterMs?: number;
  onRequest?: (e: RequestEvent) => void;
  /** Use this dispatcher for every request instead of herald's own connections (tests with MockAgent). */
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
  /** Every response's RateLimit-* headers and 429s are recorded here. */
  rateLimits?: RateLimits;
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const defaultRetryStatus = (s: number): boolean => s === 429 || s >= 500;
/** Error bodies are read for their message only, never in full. */
const ERROR_BODY_LIMIT = 64 * 1024;

export class Transport implements ExchangeObserver {
  private readonly pools = new Map<string, Connections>();
  /** The connections of each profile object already seen: one lookup per request without building the key. */
  private poolOf = new WeakMap<ConnectionProfile, Connections>();
  private readonly logger: Logger;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly onRequest: ((e: RequestEvent) => void) | undefined;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly rateLimits: RateLimits | undefined;

  constructor(opts: TransportOptions = {}) {
    this.logger = opts.logger ?? silentLogger;
    this.retries = Math.max(0, opts.retries ?? 2);
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 30_000;
    this.onRequest = opts.onRequest;
    this.dispatcher = opts.dispatcher;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.rateLimits = opts.rateLimits;
  }

  /** Sends with retries. Non-2xx statuses are returned, not thrown; network failures throw RegistryError. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const retryStatus = req.retryStatus ?? defaultRetryStatus;
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.retries;
      let res: HttpResponse;
      try {
        // Most requests follow no redirects: straight to the one exchange.
        res = req.followRedirects ? await this.sendFollowingRedirects(req) : await this.sendOnce(req, req.origin, req.path, req.headers);
      } catch (err) {
        const mapped = toRegistryError(req, err);
        if (last || !mapped.retryable) throw mapped;
        await this.sleep(this.backoff(attempt));
        continue;
      }
      if (!retryStatus(res.status)) return res;
      const retryAfter = parseRetryAfter(res.headers['retry-after']);
      if (retryAfter !== undefined && retryAfter > this.maxRetryAfterMs) {
        throw new RegistryError(`${req.subject}: ${res.status === 429 ? 'rate limited' : 'unavailable'} (${res.status}), retry after ${formatDuration(retryAfter)}`, {
          status: res.status,
          retryable: true,
          retryAfterMs: retryAfter,
        });
      }
      if (last) return res;
      await this.sleep(retryAfter ?? this.backoff(attempt));
    }
  }

  /** Exponential with jitter: base·2^n scaled by a random factor in [0.5, 1). */
  private backoff(attempt: number): number {
    return Math.round(this.retryBaseMs * 2 ** attempt * (0.5 + Math.random() / 2));
  }

  private async sendFollowingRedirects(req: HttpRequest): Promise<HttpResponse> {
    let origin = req.origin;
    let path = req.path;
    let headers = req.headers;
    for (let hop = 0; ; hop++) {
      const res = await this.sendOnce(req, origin, path, headers);
      if (!REDIRECT_STATUSES.has(res.status)) return res;
      const location = res.headers.location;
      if (location === undefined) return res;
      if (hop >= MAX_REDIRECTS) throw new RegistryError(`${req.subject}: more than ${MAX_REDIRECTS} redirects`);
      const url = new URL(`${origin}${path}`);
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new RegistryError(`${req.subject}: bad redirect location`);
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:') throw new RegistryError(`${req.subject}: redirect to unsupported scheme ${next.protocol}`);
      if (url.protocol === 'https:' && next.protocol === 'http:' && !req.profile.insecure) {
        throw new RegistryError(`${req.subject}: refusing redirect from https to plain http (${next.host})`);
      }
      if (next.origin !== url.origin) {
        // Blob storage (S3, a CDN) gets signed URLs; the registry's token must not travel there.
        const { authorization: _dropped, ...rest } = headers;
        headers = rest;
      }
      origin = next.origin;
      path = `${next.pathname}${next.search}`;
    }
  }

  /**
   * One exchange, no retries. Not async: the exchange's own promise is the answer, and the
   * bookkeeping (rate limits, request event, debug line) runs as it settles (settled() below), so a
   * request costs no promise or await here.
   */
  private sendOnce(req: HttpRequest, origin: string, path: string, headers: Record<string, string>): Promise<HttpResponse> {
    const timeoutMs = req.profile.timeoutMs;
    // The auth session hands over headers with the user-agent already in them (one object, not two).
    const sent = headers['user-agent'] === undefined ? { 'user-agent': userAgent(), ...headers } : headers;
    const head = req.method === 'HEAD';
    const opts: ExchangeOptions = {
      origin,
      path,
      method: req.method,
      headers: sent,
      // undici closes the connection after a HEAD unless told not to; herald's steady state is HEADs.
      reset: head ? false : undefined,
      headersTimeoutMs: timeoutMs,
      bodyTimeoutMs: timeoutMs,
      // An overall deadline for requests with a body. A HEAD has no body: the connect and headers
      // timeouts bound it, and it skips the timer (the HEAD is herald's steady state).
      deadlineMs: head ? undefined : timeoutMs,
      maxBytes: req.maxBytes,
      errorBytes: ERROR_BODY_LIMIT,
      subject: req.subject,
      observer: this,
      request: req,
      started: performance.now(),
    };
    if (this.dispatcher !== undefined) return exchange(this.dispatcher, opts);
    const pool = this.connectionsFor(req.profile);
    const client = pool.take(origin);
    opts.pool = pool;
    opts.client = client;
    return exchange(client, opts);
  }

  /** ExchangeObserver: what every answer (or failure) is recorded as, as it settles. */
  settled(opts: ExchangeOptions, status: number | 'error', headers: Record<string, string> | undefined): void {
    const req = opts.request!;
    if (opts.pool !== undefined) opts.pool.giveBack(opts.origin, opts.client!);
    let rateLimitRemaining: number | undefined;
    if (headers !== undefined && status !== 'error') {
      rateLimitRemaining = parseRateLimitHeader(headers['ratelimit-remaining'])?.value;
      this.rateLimits?.observe(req.registry, status, headers, status === 429 ? parseRetryAfter(headers['retry-after']) : undefined);
    }
    const durationMs = Math.round((performance.now() - opts.started!) * 10) / 10;
    // Guarded: masking the URL costs more than the rest of an unchanged check's bookkeeping.
    if (this.logger.isLevelEnabled('debug')) this.logger.debug({ method: req.method, url: maskUrlCredentials(`${opts.origin}${opts.path}`), status, ms: durationMs }, 'registry request');
    if (this.onRequest) {
      const event: RequestEvent = { registry: req.registry, kind: req.kind, status, durationMs };
      if (rateLimitRemaining !== undefined) event.rateLimitRemaining = rateLimitRemaining;
      try {
        this.onRequest(event);
      } catch {
        // a metrics hook must not break a check
      }
    }
  }

  private connectionsFor(profile: ConnectionProfile): Connections {
    const known = this.poolOf.get(profile);
    if (known !== undefined) return known;
    const key = `${profile.insecure}|${profile.caFile ?? ''}|${profile.timeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      // undici is loaded on the first request, not at import: a command that sends nothing (`check` with
      // no images, `config validate`) should not pay ~50-100 ms for it.
      pool = new Connections({
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 10 * 60_000,
        connect: {
          timeout: profile.timeoutMs,
          rejectUnauthorized: !profile.insecure,
          ...(profile.caFile !== undefined ? { ca: trustedCas(profile.caFile) } : {}),
        },
      });
      this.pools.set(key, pool);
    }
    this.poolOf.set(profile, pool);
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.poolOf = new WeakMap();
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** `ca` replaces Node's trust store, so the bundled roots and NODE_EXTRA_CA_CERTS are added back. */
function trustedCas(caFile: string): string[] {
  const cas = [...rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      cas.push(readFileSync(extra, 'utf8'));
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at startup
    }
  }
  try {
    cas.push(readFileSync(caFile, 'utf8'));
  } catch (err) {
    throw new RegistryError(`cannot read caFile ${caFile}: ${errorMessage(err)}`);
  }
  return cas;
}

const UNTRUSTED_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

/** TLS failures in words a user can act on (OpenSSL's own messages are not). */
function tlsProblem(code: string, host: string): string | undefined {
  if (UNTRUSTED_CERT_CODES.has(code)) return `TLS certificate of ${host} is not trusted (${code}); set caFile, or insecure: true`;
  if (code === 'CERT_HAS_EXPIRED') return `TLS certificate of ${host} has expired`;
  if (code === 'CERT_NOT_YET_VALID') return `TLS certificate of ${host} is not yet valid`;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS certificate does not match ${host}`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO' || code.startsWith('ERR_SSL_')) {
    return `TLS handshake with ${host} failed (${code}); a plain-http registry needs insecure: true`;
  }
  return undefined;
}

/** A network-level failure as one line: "…: connection refused", "…: timed out after 15s". */
function toRegistryError(req: HttpRequest, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as { name?: string; code?: string | number; message?: string; cause?: { code?: string } };
  const code = typeof e.code === 'string' ? e.code : e.cause?.code;
  const host = hostOf(req.origin);
  const timeout = formatDuration(req.profile.timeoutMs);
  switch (true) {
    case code === 'ECONNREFUSED':
      return new RegistryError(`${req.subject}: connection refused (${host})`, { retryable: true });
    case code === 'ENOTFOUND' || code === 'EAI_AGAIN':
      return new RegistryError(`${req.subject}: host not found (${host})`, { retryable: code === 'EAI_AGAIN' });
    case e.name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT':
      return new RegistryError(`${req.subject}: timed out after ${timeout}`, { retryable: true });
    case code !== undefined && tlsProblem(code, host) !== undefined:
      return new RegistryError(`${req.subject}: ${tlsProblem(code ?? '', host) ?? ''}`);
    case code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED':
      return new RegistryError(`${req.subject}: connection closed by ${host}`, { retryable: true });
    case code === 'EHOSTUNREACH' || code === 'ENETUNREACH':
      return new RegistryError(`${req.subject}: ${host} unreachable`, { retryable: true });
    default:
      return new RegistryError(`${req.subject}: request to ${host} failed: ${oneLine(maskUrlCredentials(e.message ?? String(err)), 200)}`, { retryable: true });
  }
}


/** 'host[:port]' of an origin, for messages. */
function hostOf(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return origin;
  }
}
