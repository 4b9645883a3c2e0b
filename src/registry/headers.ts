/**
 * The headers and shape of a request as the auth session hands it to the transport.
 */
import { userAgent } from '../util/version.js';
import type { HttpRequest } from './http.js';
import type { RepositoryEndpoint, SessionRequest } from './session.js';

/**
 * The headers a request goes out with: user-agent, the request's own and the authorization. For a
 * frozen (shared) set of request headers the result is built once per authorization header and
 * shared by every request that carries both (a batch token serves 50 repositories), instead of one
 * new object per request. The transport and undici only read headers.
 */
export class HeaderSets {
  private readonly built = new Map<Readonly<Record<string, string>>, Map<string, Record<string, string>>>();

  for(headers: Readonly<Record<string, string>>, authorization: string | undefined): Record<string, string> {
    if (!Object.isFrozen(headers)) return merged(headers, authorization);
    let byAuth = this.built.get(headers);
    if (byAuth === undefined) this.built.set(headers, (byAuth = new Map()));
    const key = authorization ?? '';
    let out = byAuth.get(key);
    if (out === undefined) {
      // Tokens are renewed over a long serve: the old ones are dropped rather than kept forever.
      if (byAuth.size >= HEADER_SETS_KEPT) byAuth.clear();
      byAuth.set(key, (out = Object.freeze(merged(headers, authorization))));
    }
    return out;
  }
}

/** Authorization headers remembered per set of request headers (a few tokens are in use at once). */
const HEADER_SETS_KEPT = 64;

function merged(headers: Readonly<Record<string, string>>, authorization: string | undefined): Record<string, string> {
  return authorization !== undefined ? { 'user-agent': userAgent(), ...headers, authorization } : { 'user-agent': userAgent(), ...headers };
}

/** The request as the transport takes it; the headers built here, user-agent included (the transport then adds none). */
export function withAuthorization(endpoint: RepositoryEndpoint, req: SessionRequest, headers: Record<string, string>): HttpRequest {
  return {
    origin: endpoint.origin,
    path: req.path,
    method: req.method,
    headers,
    kind: req.kind,
    registry: endpoint.registry,
    subject: req.subject,
    profile: endpoint.profile,
    maxBytes: req.maxBytes,
    followRedirects: req.followRedirects,
    retryStatus: req.retryStatus,
  };
}
