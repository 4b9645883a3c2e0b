/**
 * Asking for many repository scopes in one token request (the distribution token spec allows
 * several `scope` parameters; Docker Hub and docker-registry's token servers grant them in one JWT).
 *
 * A batch is kept small enough that the realm URL stays short and the token itself (sent on every
 * request afterwards) stays well under the 8 KiB header line nginx-fronted registries accept:
 * a JWT grows by about 90 bytes per scope.
 */

/** At most this many scopes per token request. */
export const MAX_SCOPES_PER_TOKEN = 50;
/** And at most this many characters of realm URL. */
export const MAX_TOKEN_URL_LENGTH = 4_000;

/** Splits `scopes` (in order) into batches that respect both limits, given the realm URL without scopes. */
export function scopeBatches(baseUrl: string, scopes: readonly string[], maxScopes = MAX_SCOPES_PER_TOKEN, maxUrlLength = MAX_TOKEN_URL_LENGTH): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let length = baseUrl.length;
  for (const scope of scopes) {
    // '&scope=' (or '?scope=') plus the value as URLSearchParams encodes it
    const added = 7 + new URLSearchParams({ s: scope }).toString().length - 2;
    if (current.length > 0 && (current.length >= maxScopes || length + added > maxUrlLength)) {
      batches.push(current);
      current = [];
      length = baseUrl.length;
    }
    current.push(scope);
    length += added;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The scopes a token grants with the `pull` action, read from its JWT `access` claim; undefined when
 * the token is not a JWT with such a claim (opaque tokens: GHCR, some proxies). The token's signature
 * is not checked: this only decides which cache entries to fill, the registry still checks the token.
 */
export function grantedPullScopes(token: string): Set<string> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const access = (claims as { access?: unknown } | null)?.access;
  if (!Array.isArray(access)) return undefined;
  const granted = new Set<string>();
  for (const entry of access as Array<{ type?: unknown; name?: unknown; actions?: unknown }>) {
    if (typeof entry !== 'object' || entry === null) continue;
    if (typeof entry.type !== 'string' || typeof entry.name !== 'string' || !Array.isArray(entry.actions)) continue;
    if (entry.actions.includes('pull') || entry.actions.includes('*')) granted.add(`${entry.type}:${entry.name}:pull`);
  }
  return granted;
}
