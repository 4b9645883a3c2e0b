/**
 * Rate-limit awareness for one run: which checks go ahead, and which are deferred to the next run
 * (reported `skipped`: no state change, no event) because a registry said its budget is spent.
 *
 * - After a 429 a registry is left alone until its Retry-After has passed (a short Retry-After is
 *   already waited out by the transport: that is the slowing down; a long one defers).
 * - When the figures a registry sent during this run say the budget is low (RateLimit-Remaining
 *   below the checks still to go), checks continue only while more than a reserve (a tenth of the
 *   limit) is left; the rest wait for the next run. The run checks the least recently checked
 *   images first, so deferred images go first next time and none starves.
 * - Docker Hub counts manifest GETs, not HEADs: its checks always go ahead, and only the GETs of a
 *   changed image need budget; a changed image that cannot have them is deferred whole.
 * Figures from earlier runs are not used: the window may have refilled since, and the first
 * responses of this run bring fresh ones.
 */
import type { Logger } from '../util/log.js';
import { RegistryError } from '../util/errors.js';
import type { RateLimitInfo } from '../registry/ratelimit.js';
import type { ManifestSource } from './check.js';

/** What a client knows about rate limits (RegistryClient.rateLimit). */
export interface RateLimitSource {
  rateLimit?(registry: string): Readonly<RateLimitInfo> | undefined;
}

/** Registries whose budget only counts manifest GETs, not HEADs (Docker Hub counts GETs as pulls). */
const GETS_ONLY = new Set(['docker.io']);
/** Manifest GETs a changed image may need: the index and the platform manifest. */
export const GETS_PER_CHANGE = 2;

export class RunBudget {
  private readonly left = new Map<string, number>();
  private readonly deferred = new Map<string, number>();
  /** Checks admitted and not finished, per registry: their requests may not show in `remaining` yet. */
  private readonly inFlight = new Map<string, number>();
  private readonly told = new Set<string>();

  constructor(
    private readonly source: RateLimitSource,
    registries: Iterable<string>,
    private readonly logger: Logger,
    private readonly runStartMs: number,
    private readonly now: () => number = Date.now,
  ) {
    for (const r of registries) this.left.set(r, (this.left.get(r) ?? 0) + 1);
  }

  /** Call as each check is about to start: true to check now, false to defer it. */
  admit(registry: string): boolean {
    const left = this.left.get(registry) ?? 1;
    this.left.set(registry, left - 1);
    const info = this.source.rateLimit?.(registry);
    if (info !== undefined) {
      const limited = this.limitedReason(info);
      if (limited !== undefined) return this.defer(registry, limited, left);
      // Checks spend the budget down to the reserve, never into it. (When the budget is low, that is
      // below the checks still to go, the run stops there and the rest wait for the next run.) The
      // checks in flight will spend at least one request each that the last figure may not show yet.
      if (!GETS_ONLY.has(registry) && this.fresh(info) && info.remaining !== undefined) {
        if (info.remaining - (this.inFlight.get(registry) ?? 0) <= reserveOf(info)) return this.defer(registry, `rate limit low: ${describe(info)}`, left);
      }
    }
    this.inFlight.set(registry, (this.inFlight.get(registry) ?? 0) + 1);
    return true;
  }

  /** One more check of this registry to come in this run (for the count of checks left). */
  expect(registry: string): void {
    this.left.set(registry, (this.left.get(registry) ?? 0) + 1);
  }

  /** A check that went ahead without asking (its registry had shown no rate limit): counted in flight like an admitted one. */
  admitted(registry: string): void {
    this.left.set(registry, (this.left.get(registry) ?? 0) - 1);
    this.inFlight.set(registry, (this.inFlight.get(registry) ?? 0) + 1);
  }

  /** Call when an admitted check is over. */
  finished(registry: string): void {
    this.inFlight.set(registry, Math.max(0, (this.inFlight.get(registry) ?? 0) - 1));
  }

  /** Before the manifest GETs of a changed image: false when the registry's budget cannot spare them. */
  mayFetch(registry: string): boolean {
    const info = this.source.rateLimit?.(registry);
    if (info === undefined) return true;
    if (this.limitedReason(info) !== undefined) return false;
    if (!this.fresh(info) || info.remaining === undefined) return true;
    const others = Math.max(0, (this.inFlight.get(registry) ?? 0) - 1);
    return info.remaining - others - GETS_PER_CHANGE >= reserveOf(info);
  }

  /** A check that was stopped by a 429 or by mayFetch: counted and told like a deferral. */
  deferredAfterStart(registry: string): void {
    const info = this.source.rateLimit?.(registry);
    const reason = info === undefined ? 'rate limited' : (this.limitedReason(info) ?? `rate limit low: ${describe(info)}`);
    this.defer(registry, reason, (this.left.get(registry) ?? 0) + 1);
  }

  /** Deferred checks per registry, for the run's summary. */
  deferrals(): ReadonlyMap<string, number> {
    return this.deferred;
  }

  private fresh(info: Readonly<RateLimitInfo>): boolean {
    return info.at >= this.runStartMs;
  }

  private limitedReason(info: Readonly<RateLimitInfo>): string | undefined {
    if (info.limitedUntil === undefined || info.limitedUntil <= this.now()) return undefined;
    return `rate limited (429), asked to wait until ${new Date(info.limitedUntil).toISOString()}`;
  }

  private defer(registry: string, reason: string, left: number): false {
    this.deferred.set(registry, (this.deferred.get(registry) ?? 0) + 1);
    if (!this.told.has(registry)) {
      this.told.add(registry);
      this.logger.warn(
        { registry, checksLeft: left, reason },
        `${registry}: ${reason}; deferring its remaining checks (${left}) to the next run`,
      );
    }
    return false;
  }
}

/**
 * The client as checks see it: manifest GETs first ask the run's budget, and a changed image whose
 * GETs the budget cannot spare fails like a 429, so the run defers it instead of reporting an error.
 */
export function budgeted(client: ManifestSource, budget: RunBudget): ManifestSource {
  return {
    headManifest: (ref, reference) => client.headManifest(ref, reference),
    getManifest: (ref, reference) =>
      budget.mayFetch(ref.registry)
        ? client.getManifest(ref, reference)
        : Promise.reject(new RegistryError(`${ref.registry}: rate limit nearly spent; ${ref.name} changed and is checked again next run`, { status: 429 })),
    getImageConfig: (ref, digest) => client.getImageConfig(ref, digest),
  };
}

/** What is kept back for everything else that uses the same budget (people pulling images): a tenth. */
function reserveOf(info: Readonly<RateLimitInfo>): number {
  return info.limit !== undefined ? Math.ceil(info.limit / 10) : 0;
}

function describe(info: Readonly<RateLimitInfo>): string {
  const window = info.windowSeconds !== undefined ? ` per ${formatWindow(info.windowSeconds)}` : '';
  return info.limit !== undefined ? `${info.remaining} of ${info.limit}${window} left` : `${info.remaining} left`;
}

function formatWindow(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
