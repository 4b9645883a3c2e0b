/**
 * The auth half of the registry client: one GET /v2/ per registry origin (pings.ts), bearer tokens
 * per (registry, scope) from the token cache, Basic credentials sent directly, and one round of 401
 * handling (insufficient_scope, a revoked token, a registry that starts asking for auth).
 * Concurrent checks share one ping and one token request.
 */
import { RegistryError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { basicAuthorization, type CredentialStore, type Credentials, type TokenCache } from './auth.js';
import { challengeScopes, chooseChallenge, parseWwwAuthenticate, type Challenge } from './challenge.js';
import { oneLine } from '../util/text.js';
import { HeaderSets, withAuthorization } from './headers.js';
import { type ConnectionProfile, type HttpRequest, type HttpResponse, type Transport } from './http.js';
import { grantedPullScopes, scopeBatches } from './scopes.js';
import { Pings, type ChallengeCache, type PingResult } from './pings.js';
import { statusError } from './status.js';

export { CHALLENGE_FRESH_MS, type ChallengeCache } from './pings.js';

const TOKEN_MAX_BYTES = 1024 * 1024;
/**
 * Batched token requests in flight at once during prepare(): up to 400 repositories (8 batches of
 * 50) in one round trip; a `check` waits for all of them before its first HEAD.
 */
const PREPARE_CONCURRENCY = 8;

/** Everything needed to talk to one repository. */
export interface RepositoryEndpoint {
  registry: string;
  repository: string;
  /** 'https://registry-1.docker.io', 'http://127.0.0.1:5000' */
  origin: string;
  profile: ConnectionProfile;
  /** '/v2/<repository>/': the start of every request path. */
  apiPath: string;
  /** Where its registry's ping is kept, built once (pings.ts pingKeyOf). */
  pingKey: string;
  /** Its pull scope, built once ('repository:<path>:pull'). */
  scope: string;
  /** The token-cache key for `scope` under the challenge it was built for: every request needs it, and building it is not free. */
  tokenKeyMemo?: { challenge: Challenge; key: string };
}

/** A request as the session takes it: the endpoint gives where it goes and how to connect. */
export type SessionRequest = Omit<HttpRequest, 'registry' | 'profile' | 'origin'>;

/** What prepare() did, for logs and the benchmark. */
export interface PrepareSummary {
  /** Token requests sent (each for a batch of scopes). */
  tokenRequests: number;
  /** Scopes asked for in them. */
  scopes: number;
  /** Scopes whose token is now cached. */
  cached: number;
}

interface Authorization {
  header?: string;
  /** The token was fetched for this request (a 401 then means bad credentials, not an expired token). */
  fresh: boolean;
  credentials?: Credentials;
}

export class AuthSession {
  private readonly pings: Pings;
  private readonly tokenRequests = new Map<string, Promise<string>>();
  private readonly headerSets = new HeaderSets();

  constructor(
    private readonly transport: Transport,
    private readonly credentials: CredentialStore,
    private readonly tokens: TokenCache,
    private readonly logger: Logger,
    remembered?: ChallengeCache,
    now: () => number = Date.now,
  ) {
    this.pings = new Pings(transport, logger, remembered, now);
  }

  /**
   * Sends a request for a repository with the auth its registry asks for, handling one round of 401s.
   * The common case (challenge known, token cached) goes straight to the transport: no wait for the
   * settled ping and no async token lookup.
   */
  authorized(endpoint: RepositoryEndpoint, req: SessionRequest): Promise<HttpResponse> {
    const ping = this.pings.cached(endpoint);
    if (ping === undefined) return this.pingThenAuthorized(endpoint, req);
    return this.authorizedWith(endpoint, req, ping, false);
  }

  private async pingThenAuthorized(endpoint: RepositoryEndpoint, req: SessionRequest): Promise<HttpResponse> {
    return this.authorizedWith(endpoint, req, await this.pings.ping(endpoint), false);
  }

  /** `again`: the second try after a remembered challenge failed (its failure is not caught again). */
  private async authorizedWith(endpoint: RepositoryEndpoint, req: SessionRequest, ping: PingResult, again: boolean): Promise<HttpResponse> {
    const { scope } = endpoint;
    try {
      let auth = this.cachedAuthorization(endpoint, ping.challenge);
      if (auth === undefined) {
        auth = ping.remembered === true
          ? await this.asAuthFailure(ping, () => this.authorize(endpoint, ping.challenge, [scope], false, req.subject))
          : await this.authorize(endpoint, ping.challenge, [scope], false, req.subject);
      }
      const res = await this.transport.send(withAuthorization(endpoint, req, this.headerSets.for(req.headers, auth.header)));
      if (res.status !== 401 && !(res.status === 403 && ping.remembered === true)) return res;
      if (res.status === 403) throw new AuthFailure(unauthorized(req.subject, endpoint, auth.credentials, 403));
      const first = auth;
      return await this.asAuthFailure(ping, () => this.afterUnauthorized(endpoint, req, ping, first, res));
    } catch (err) {
      // Auth with a challenge remembered from an earlier process failed (a moved realm, other auth):
      // ask the registry, and try once more with what it says now.
      if (again || ping.remembered !== true || !(err instanceof AuthFailure)) throw err;
      return this.authorizedWith(endpoint, req, await this.pings.forget(endpoint, ping), true);
    }
  }

  /** authorize() without waiting, when it would answer at once: no challenge, or a cached bearer token. */
  private cachedAuthorization(endpoint: RepositoryEndpoint, challenge: Challenge | undefined): Authorization | undefined {
    if (!challenge) return { fresh: false };
    if (challenge.scheme === 'basic') return undefined;
    const header = this.tokens.authorization(this.scopeTokenKey(endpoint, challenge));
    return header !== undefined ? { header, fresh: false } : undefined;
  }

  /** With a remembered challenge, a failure to authorize is marked (authorizedWith() then pings and tries again); otherwise left as it is. */
  private async asAuthFailure<T>(ping: PingResult, step: () => Promise<T>): Promise<T> {
    if (ping.remembered !== true) return step();
    try {
      return await step();
    } catch (err) {
      throw err instanceof RegistryError ? new AuthFailure(err) : err;
    }
  }

  /** One round of 401 handling (kept apart so the common path stays small: it runs for every check). */
  private async afterUnauthorized(
    endpoint: RepositoryEndpoint,
    req: SessionRequest,
    ping: PingResult,
    first: Authorization,
    res: HttpResponse,
  ): Promise<HttpResponse> {
    const { scope } = endpoint;
    let auth = first;

    const challenge = chooseChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
    const scheme = challenge?.scheme;
    if (!challenge) throw unauthorized(req.subject, endpoint, auth.credentials);
    if (!ping.challenge || ping.challenge.scheme !== scheme) {
      // The registry now asks for auth it did not announce on /v2/ (or changed scheme): remember and retry once.
      this.pings.learned(endpoint, challenge);
      auth = await this.authorize(endpoint, challenge, [scope], true, req.subject);
    } else if (scheme === 'bearer') {
      const wanted = challenge.params.error === 'insufficient_scope' ? challengeScopes(challenge) : [];
      const differentScope = wanted.length > 0 && !(wanted.length === 1 && wanted[0] === scope);
      if (differentScope) {
        auth = await this.authorize(endpoint, challenge, wanted, true, req.subject);
        // Later requests for this repository start from the scope that worked.
        this.tokens.alias(this.tokenKey(endpoint, challenge, wanted), this.tokenKey(endpoint, challenge, [scope]));
      } else if (!auth.fresh) {
        // The cached token may have been revoked early: one fresh token, then give up.
        this.tokens.delete(this.tokenKey(endpoint, challenge, [scope]));
        auth = await this.authorize(endpoint, challenge, [scope], true, req.subject);
      } else {
        // Harbor hands out tokens for wrong credentials; the 401 comes here.
        throw unauthorized(req.subject, endpoint, auth.credentials);
      }
    } else {
      throw unauthorized(req.subject, endpoint, auth.credentials);
    }
    const retried = await this.transport.send(withAuthorization(endpoint, req, this.headerSets.for(req.headers, auth.header)));
    if (retried.status === 401) throw unauthorized(req.subject, endpoint, auth.credentials);
    return retried;
  }

  /**
   * Before a run: one ping per registry origin, then the bearer tokens every repository in `endpoints`
   * will need that are not cached yet, as a few token requests with many scopes each (instead of one
   * request per repository). Each granted scope is cached under its own key, so the checks find
   * their token without knowing about batches. Scopes a batch token does not grant, and batches that
   * fail, are left to the usual one-token-per-repository path. Never throws: problems surface in the
   * checks that follow, per image.
   */
  async prepare(endpoints: readonly RepositoryEndpoint[], again = false): Promise<PrepareSummary> {
    const summary: PrepareSummary = { tokenRequests: 0, scopes: 0, cached: 0 };
    // Registries whose remembered challenge got a batch refused: pinged again, and prepared once more.
    const stale = new Map<RepositoryEndpoint[], PingResult>();
    const byOrigin = new Map<string, RepositoryEndpoint[]>();
    for (const t of endpoints) {
      const key = t.pingKey;
      const list = byOrigin.get(key);
      if (list) list.push(t);
      else byOrigin.set(key, [t]);
    }
    const jobs: Array<() => Promise<void>> = [];
    await Promise.all(
      [...byOrigin.values()].map(async (group) => {
        let ping: PingResult;
        try {
          ping = await this.pings.ping(group[0]!);
        } catch {
          return; // each check reports the unreachable registry itself
        }
        const challenge = ping.challenge;
        if (challenge?.scheme !== 'bearer') return;
        // One batch family per set of credentials (registries entries may differ by path prefix).
        const families = new Map<string, { credentials: Credentials | undefined; endpoints: RepositoryEndpoint[] }>();
        const seen = new Set<string>();
        const wanted: RepositoryEndpoint[] = [];
        for (const t of group) {
          const key = this.scopeTokenKey(t, challenge);
          if (seen.has(key) || this.tokens.get(key) !== undefined) continue;
          seen.add(key);
          wanted.push(t);
        }
        const found = await this.credentials.lookupAll(wanted);
        for (let i = 0; i < wanted.length; i++) {
          const t = wanted[i]!;
          const credentials = found[i];
          const id = credentials ? `${credentials.username}\u0000${credentials.password}` : '';
          const family = families.get(id) ?? { credentials, endpoints: [] };
          family.endpoints.push(t);
          families.set(id, family);
        }
        for (const { credentials, endpoints: members } of families.values()) {
          const realmBase = `${challenge.params.realm ?? ''}?service=${encodeURIComponent(challenge.params.service ?? '')}`;
          const byScope = new Map(members.map((t) => [t.scope, t]));
          for (const batch of scopeBatches(realmBase, [...byScope.keys()])) {
            jobs.push(async () => {
              const ok = await this.prefetchBatch(challenge, batch.map((s) => byScope.get(s)!), credentials, summary);
              if (!ok && ping.remembered === true) stale.set(group, ping);
            });
          }
        }
      }),
    );
    // A few at a time: thousands of images are a few dozen batches.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) await jobs[next++]!();
    };
    await Promise.all(Array.from({ length: Math.min(PREPARE_CONCURRENCY, jobs.length) }, worker));
    if (stale.size > 0 && !again) {
      await Promise.all([...stale].map(([group, ping]) => this.pings.forget(group[0]!, ping).catch(() => undefined)));
      const more = await this.prepare([...stale.keys()].flat(), true);
      summary.tokenRequests += more.tokenRequests;
      summary.scopes += more.scopes;
      summary.cached += more.cached;
    }
    return summary;
  }

  /** One token for a batch of repositories; false when it was refused. */
  private async prefetchBatch(challenge: Challenge, endpoints: RepositoryEndpoint[], credentials: Credentials | undefined, summary: PrepareSummary): Promise<boolean> {
    const first = endpoints[0]!;
    const scopes = endpoints.map((t) => t.scope);
    summary.tokenRequests++;
    summary.scopes += scopes.length;
    let answer: { token: string; expiresIn: number | undefined };
    try {
      answer = await this.requestToken(first, challenge, scopes, credentials, first.registry);
    } catch (err) {
      this.logger.debug({ registry: first.registry, scopes: scopes.length, reason: (err as Error).message }, 'token for many scopes refused; asking per repository');
      return false;
    }
    // Only the scopes the token says it grants; an opaque token is trusted for all of them (a 401 on
    // a check then drops it and asks for that repository's own token).
    const granted = grantedPullScopes(answer.token);
    const header = `Bearer ${answer.token}`; // one string for every repository the token serves
    for (const t of endpoints) {
      if (granted !== undefined && !granted.has(t.scope)) continue;
      this.tokens.set(this.scopeTokenKey(t, challenge), answer.token, answer.expiresIn, header);
      summary.cached++;
    }
    if (granted !== undefined && granted.size < scopes.length) {
      this.logger.debug({ registry: first.registry, asked: scopes.length, granted: granted.size }, 'token granted only some scopes; the others get their own token');
    }
    return true;
  }

  /** tokenKey() of the endpoint's own pull scope, built once per challenge and kept on the endpoint: every request needs it. */
  private scopeTokenKey(endpoint: RepositoryEndpoint, challenge: Challenge): string {
    const memo = endpoint.tokenKeyMemo;
    if (memo !== undefined && memo.challenge === challenge) return memo.key;
    const key = this.tokenKey(endpoint, challenge, endpoint.scope);
    endpoint.tokenKeyMemo = { challenge, key };
    return key;
  }

  /** `scopes`: one scope as a string is the same key as a list of just that scope. */
  private tokenKey(endpoint: RepositoryEndpoint, challenge: Challenge, scopes: string[] | string): string {
    return `${endpoint.origin}|${challenge.params.realm ?? ''}|${challenge.params.service ?? ''}|${typeof scopes === 'string' ? scopes : scopes.join(' ')}`;
  }

  private async authorize(endpoint: RepositoryEndpoint, challenge: Challenge | undefined, scopes: string[], forceFresh: boolean, subject: string): Promise<Authorization> {
    if (!challenge) return { fresh: false };
    if (challenge.scheme === 'basic') {
      // Basic realms are labels ("Artifactory Realm"), not URLs: send the credentials directly.
      const credentials = await this.credentials.lookup(endpoint.registry, endpoint.repository);
      return credentials ? { header: basicAuthorization(credentials), fresh: false, credentials } : { fresh: false };
    }
    const key = this.tokenKey(endpoint, challenge, scopes);
    if (!forceFresh) {
      const cached = this.tokens.authorization(key);
      if (cached !== undefined) return { header: cached, fresh: false };
    }
    const credentials = await this.credentials.lookup(endpoint.registry, endpoint.repository);
    let pending = this.tokenRequests.get(key);
    if (!pending) {
      pending = this.fetchToken(endpoint, challenge, scopes, credentials, key, subject).finally(() => this.tokenRequests.delete(key));
      this.tokenRequests.set(key, pending);
    }
    const token = await pending;
    const auth: Authorization = { header: `Bearer ${token}`, fresh: true };
    if (credentials) auth.credentials = credentials;
    return auth;
  }

  private async fetchToken(endpoint: RepositoryEndpoint, challenge: Challenge, scopes: string[], credentials: Credentials | undefined, key: string, subject: string): Promise<string> {
    const { token, expiresIn } = await this.requestToken(endpoint, challenge, scopes, credentials, subject);
    this.tokens.set(key, token, expiresIn);
    return token;
  }

  /** One GET of the token realm for `scopes` (several `scope` parameters when there are several). */
  private async requestToken(
    endpoint: RepositoryEndpoint,
    challenge: Challenge,
    scopes: string[],
    credentials: Credentials | undefined,
    subject: string,
  ): Promise<{ token: string; expiresIn: number | undefined }> {
    const realmText = challenge.params.realm ?? '';
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new RegistryError(`${subject}: the registry's token realm "${oneLine(realmText, 100)}" is not a URL`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new RegistryError(`${subject}: unsupported token realm scheme ${realm.protocol}`);
    if (realm.protocol === 'http:' && credentials && !endpoint.profile.insecure) {
      throw new RegistryError(`${subject}: refusing to send credentials to the plain-http token realm ${realm.host} (mark the registry insecure to allow it)`);
    }
    if (challenge.params.service !== undefined && challenge.params.service.length > 0) realm.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) realm.searchParams.append('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (credentials) headers.authorization = basicAuthorization(credentials);

    const res = await this.transport.send({
      origin: realm.origin,
      path: `${realm.pathname}${realm.search}`,
      method: 'GET',
      headers,
      kind: 'token',
      registry: endpoint.registry,
      subject,
      profile: endpoint.profile,
      maxBytes: TOKEN_MAX_BYTES,
    });
    if (res.status === 401 || res.status === 403) throw unauthorized(subject, endpoint, credentials, res.status);
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
    return { token, expiresIn };
  }
}

/** An auth step that failed with a remembered challenge; authorizedWith() asks the registry again. Never leaves this module. */
class AuthFailure extends Error {
  constructor(readonly failure: RegistryError) {
    super(failure.message);
  }
}

function unauthorized(subject: string, endpoint: RepositoryEndpoint, credentials: Credentials | undefined, status = 401): RegistryError {
  const what = status === 403 ? 'denied (403)' : 'unauthorized (401)';
  const hint = credentials
    ? `check the credentials for ${endpoint.registry} (${credentials.source})`
    : `no credentials for ${endpoint.registry}; add a registries entry or docker login (or the repository does not exist)`;
  return new RegistryError(`${subject}: ${what}: ${hint}`, { status });
}
