/**
 * Per-registry concurrency that grows while a registry keeps up, for one run.
 *
 * Each registry starts at its bound (`registries[].concurrency`, default min(workers, 16)). A
 * registry that may grow (no `concurrency` of its own, `watch.workers` not set in the config) gets
 * one more slot for every check it answers fast: at about the speed of its fastest answer so far
 * (within twice it, plus a little), so a registry whose answers slow down as more are in flight
 * stops growing there and gives slots back. It never grows past GROWTH_FACTOR times its bound (at most
 * MAX_ADAPTIVE). The first sign of a rate limit (RateLimit headers, a 429) or a failed answer puts
 * it back at its bound for the rest of the run.
 *
 * The slots a registry earns are its own: the pool's overall bound is watch.workers plus what each
 * registry earned, so a slow registry (which earns nothing) still gets its share of the workers and
 * cannot take the others' (the pool gives a free slot to the registry with the fewest in flight).
 */
import type { RateLimitSource } from './budget.js';

/** A registry grows to at most this many times its starting bound… */
export const GROWTH_FACTOR = 4;
/** …and never past this many checks in flight. */
export const MAX_ADAPTIVE = 64;
/** An answer within twice the fastest one so far, plus this, counts as fast. */
const SLACK_MS = 20;

interface Registry {
  base: number;
  ceiling: number;
  current: number;
  fastestMs: number;
  /** Put back to its base for the rest of the run. */
  held: boolean;
}

export class AdaptiveBounds {
  private readonly registries = new Map<string, Registry>();
  private earned = 0;
  private peakValue = 0;

  /**
   * `baseOf`: the registry's configured bound; `mayGrow`: whether it may go past it;
   * `limits`: what the client knows of rate limits (a registry that sent any does not grow).
   */
  constructor(
    private readonly baseOf: (registry: string) => number,
    private readonly mayGrow: (registry: string) => boolean,
    private readonly limits: RateLimitSource,
  ) {}

  private entry(registry: string): Registry {
    let r = this.registries.get(registry);
    if (r === undefined) {
      const base = Math.max(1, this.baseOf(registry));
      const grows = this.mayGrow(registry);
      r = { base, ceiling: grows ? Math.max(base, Math.min(MAX_ADAPTIVE, base * GROWTH_FACTOR)) : base, current: base, fastestMs: Infinity, held: !grows };
      this.registries.set(registry, r);
    }
    return r;
  }

  /** Checks of this registry that may be in flight now. */
  limitOf(registry: string): number {
    return this.entry(registry).current;
  }

  /** The pool's overall bound given its base (watch.workers): the base plus every slot earned. */
  concurrency(workers: number): number {
    return workers + this.earned;
  }

  /** Call when a check (or a listing) of the registry failed: it stays at its bound for the rest of the run. */
  failed(registry: string): void {
    const r = this.entry(registry);
    if (r.held) return;
    r.held = true;
    this.set(r, r.base);
  }

  /** Call when a check (or a listing) of the registry answered, with how long it took. */
  answered(registry: string, ms: number): void {
    const r = this.entry(registry);
    if (r.held) return;
    if (this.limits.rateLimit?.(registry) !== undefined) return this.failed(registry);
    if (ms < r.fastestMs) r.fastestMs = ms;
    if (ms <= 2 * r.fastestMs + SLACK_MS) this.set(r, Math.min(r.ceiling, r.current + 1));
    else this.set(r, Math.max(r.base, r.current - 1));
  }

  /** The highest bound any registry reached in this run (for the run's debug line). */
  peak(): number {
    return this.peakValue;
  }

  private set(r: Registry, value: number): void {
    this.earned += value - r.current;
    r.current = value;
    if (value > this.peakValue) this.peakValue = value;
  }
}
