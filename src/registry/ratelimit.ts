/**
 * What registries say about their rate limits, per registry, as last seen on any response.
 *
 * Docker Hub sends `RateLimit-Limit: 100;w=21600` and `RateLimit-Remaining: 76;w=21600` (the window
 * in seconds after `w=`); other registries send nothing, or the same headers with an `X-` prefix.
 * A 429 marks the registry as limited until its Retry-After (or a default back-off) has passed.
 * The run's budget reads this (RegistryClient.rateLimit) to defer checks instead of burning a
 * budget that is nearly spent. The metrics' rate-limit gauge is fed apart from this, by the
 * RateLimit-Remaining each request event carries (RequestEvent in http.ts).
 */

export interface RateLimitInfo {
  /** Requests (Docker Hub: pulls) left in the current window, from the last response that said so. */
  remaining?: number;
  /** The window's allowance, when the registry sends it. */
  limit?: number;
  /** Length of the window in seconds (`w=`), when sent. */
  windowSeconds?: number;
  /** When remaining/limit were last seen, or the last 429 came (ms since the epoch). */
  at: number;
  /** Set after a 429: the registry should not be asked again before this time (ms since the epoch). */
  limitedUntil?: number;
}

/** How long a registry is left alone after a 429 that names no Retry-After. */
export const DEFAULT_429_BACKOFF_MS = 60_000;

/** `76;w=21600` → { value: 76, window: 21600 }; a plain `76` works too. */
export function parseRateLimitHeader(value: string | undefined): { value: number; window?: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*(\d+)\s*(?:;\s*w\s*=\s*(\d+))?/i.exec(value);
  if (!m) return undefined;
  const out: { value: number; window?: number } = { value: Number(m[1]) };
  if (m[2] !== undefined) out.window = Number(m[2]);
  return out;
}

export class RateLimits {
  private readonly byRegistry = new Map<string, RateLimitInfo>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records what one response said. `retryAfterMs` is the parsed Retry-After of a 429, if any. */
  observe(registry: string, status: number, headers: Record<string, string>, retryAfterMs?: number): void {
    const remaining = parseRateLimitHeader(headers['ratelimit-remaining'] ?? headers['x-ratelimit-remaining']);
    const limit = parseRateLimitHeader(headers['ratelimit-limit'] ?? headers['x-ratelimit-limit']);
    if (remaining === undefined && limit === undefined && status !== 429) return;
    const at = this.now();
    const info = this.byRegistry.get(registry) ?? { at };
    info.at = at;
    if (remaining !== undefined) info.remaining = remaining.value;
    if (limit !== undefined) info.limit = limit.value;
    const window = remaining?.window ?? limit?.window;
    if (window !== undefined) info.windowSeconds = window;
    if (status === 429) {
      info.limitedUntil = at + (retryAfterMs ?? DEFAULT_429_BACKOFF_MS);
      // A 429 means nothing is left, whatever a header said a moment ago.
      info.remaining = 0;
    }
    this.byRegistry.set(registry, info);
  }

  get(registry: string): Readonly<RateLimitInfo> | undefined {
    return this.byRegistry.get(registry);
  }
}
