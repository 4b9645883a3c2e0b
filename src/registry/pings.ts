/**
 * One GET /v2/ per registry origin: the auth challenge it gives is reused for the client's lifetime
 * and, with a ChallengeCache (the store), remembered across processes while fresh, so a `check` run
 * from cron does not ping a registry it pinged a moment ago. Concurrent checks share one ping.
 */
import type { Logger } from '../util/log.js';
import { chooseChallenge, parseWwwAuthenticate, type Challenge } from './challenge.js';
import type { Transport } from './http.js';
import type { RepositoryEndpoint } from './session.js';
import { statusError } from './status.js';

const PING_MAX_BYTES = 64 * 1024;

/**
 * How long a remembered challenge is used without asking. A registry's auth realm and scheme change
 * seldom, and a wrong one costs little: the first auth failure drops it and pings again.
 */
export const CHALLENGE_FRESH_MS = 24 * 60 * 60_000;

/** What a registry's /v2/ said about auth. */
export interface PingResult {
  challenge?: Challenge;
  /** Remembered from an earlier process, not asked in this one: an auth failure asks again. */
  remembered?: boolean;
}

/** Where pings are remembered between processes (the store's registry_challenges). */
export interface ChallengeCache {
  get(endpoint: string): { challenge: Challenge | undefined; at: number } | undefined;
  set(endpoint: string, challenge: Challenge | undefined, at: number): void;
  delete(endpoint: string): void;
}

/** Pings are per origin and CA file (one TLS setup talks to one registry): an endpoint's key, built once when the endpoint is (RepositoryEndpoint.pingKey). */
export function pingKeyOf(origin: string, caFile: string | undefined): string {
  return `${origin}|${caFile ?? ''}`;
}

export class Pings {
  private readonly pings = new Map<string, Promise<PingResult>>();
  /** The settled ones among `pings`, by the same key: read without a promise on every request. */
  private readonly settled = new Map<string, PingResult>();

  constructor(
    private readonly transport: Transport,
    private readonly logger: Logger,
    private readonly remembered: ChallengeCache | undefined,
    private readonly now: () => number,
  ) {}

  /** The registry's challenge when ping() already has it (no promise to wait for); undefined otherwise. */
  cached(endpoint: RepositoryEndpoint): PingResult | undefined {
    return this.settled.get(endpoint.pingKey);
  }

  /** The registry's challenge: asked once, or remembered by an earlier process and still fresh. */
  ping(endpoint: RepositoryEndpoint): Promise<PingResult> {
    const key = endpoint.pingKey;
    let pending = this.pings.get(key);
    if (!pending) {
      const known = this.remembered?.get(key);
      const age = known === undefined ? Infinity : this.now() - known.at;
      if (known !== undefined && age >= 0 && age < CHALLENGE_FRESH_MS) {
        const result: PingResult = known.challenge ? { challenge: known.challenge, remembered: true } : { remembered: true };
        pending = Promise.resolve(result);
        this.settled.set(key, result);
      } else {
        const asked: Promise<PingResult> = this.ask(endpoint).then((result) => {
          this.remembered?.set(key, result.challenge, this.now());
          if (this.pings.get(key) === asked) this.settled.set(key, result);
          return result;
        });
        pending = asked;
        // A failed ping is retried on the next request.
        pending.catch(() => {
          this.pings.delete(key);
          this.settled.delete(key);
        });
      }
      this.pings.set(key, pending);
    }
    return pending;
  }

  /** A challenge a 401 brought (the registry asks for auth it did not announce, or changed scheme). */
  learned(endpoint: RepositoryEndpoint, challenge: Challenge): void {
    const key = endpoint.pingKey;
    const result: PingResult = { challenge };
    this.pings.set(key, Promise.resolve(result));
    this.settled.set(key, result);
    this.remembered?.set(key, challenge, this.now());
  }

  /**
   * Drops a remembered challenge that did not work and asks the registry. Checks that saw it fail
   * together drop it once and share the new ping.
   */
  async forget(endpoint: RepositoryEndpoint, stale: PingResult): Promise<PingResult> {
    const key = endpoint.pingKey;
    const current = await this.pings.get(key)?.catch(() => undefined);
    if (current === stale) {
      this.pings.delete(key);
      this.settled.delete(key);
      this.remembered?.delete(key);
      this.logger.debug({ registry: endpoint.registry }, 'the remembered auth challenge did not work; asking the registry again');
    }
    return this.ping(endpoint);
  }

  private async ask(endpoint: RepositoryEndpoint): Promise<PingResult> {
    const res = await this.transport.send({
      origin: endpoint.origin,
      path: '/v2/',
      method: 'GET',
      headers: {},
      kind: 'ping',
      registry: endpoint.registry,
      subject: endpoint.registry,
      profile: endpoint.profile,
      maxBytes: PING_MAX_BYTES,
    });
    if (res.status === 401) {
      const challenge = chooseChallenge(parseWwwAuthenticate(res.headers['www-authenticate']));
      if (!challenge) this.logger.debug({ registry: endpoint.registry, header: res.headers['www-authenticate'] ?? null }, 'no usable auth challenge; trying anonymously');
      return challenge ? { challenge } : {};
    }
    if (res.status >= 500 || res.status === 429) throw statusError(endpoint.registry, res, 'ping');
    // 200, or a registry without /v2/ at all (404): no auth up front; a later 401 brings its challenge.
    return {};
  }
}
