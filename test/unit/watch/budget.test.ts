import { describe, expect, it } from 'vitest';
import { RunBudget } from '../../../src/watch/budget.js';
import type { RateLimitInfo } from '../../../src/registry/ratelimit.js';

function recorder() {
  const lines: Array<{ fields: unknown; msg: string }> = [];
  const logger = { warn: (fields: unknown, msg: string) => lines.push({ fields, msg }) } as never;
  return { lines, logger };
}

describe('run budget', () => {
  const start = 1_000_000;

  it('lets everything through when a registry says nothing about limits', () => {
    const { logger, lines } = recorder();
    const b = new RunBudget({ rateLimit: () => undefined }, ['r', 'r', 'r'], logger, start, () => start);
    expect([b.admit('r'), b.admit('r'), b.admit('r')]).toEqual([true, true, true]);
    expect(b.mayFetch('r')).toBe(true);
    expect(lines).toHaveLength(0);
  });

  it('spends a low budget down to a tenth of the limit, then defers the rest with one log line', () => {
    const { logger, lines } = recorder();
    const info: RateLimitInfo = { remaining: 13, limit: 100, windowSeconds: 21600, at: start + 5 };
    const b = new RunBudget({ rateLimit: () => info }, Array(30).fill('reg.example.com'), logger, start, () => start + 10);
    const admitted: boolean[] = [];
    for (let i = 0; i < 30; i++) {
      const ok = b.admit('reg.example.com');
      admitted.push(ok);
      if (ok) {
        info.remaining = Math.max(0, info.remaining! - 1); // each check spends one request
        b.finished('reg.example.com');
      }
    }
    expect(admitted.filter(Boolean)).toHaveLength(3); // 13, 12, 11 > 10; at 10 it stops
    expect(b.deferrals().get('reg.example.com')).toBe(27);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toBe('reg.example.com: rate limit low: 10 of 100 per 6h left; deferring its remaining checks (27) to the next run');
  });

  it('goes ahead while anything is left above the reserve (none without a limit header), and ignores figures from before the run', () => {
    const { logger } = recorder();
    const b = new RunBudget({ rateLimit: () => ({ remaining: 5, at: start + 1 }) }, ['r', 'r'], logger, start, () => start + 2);
    expect([b.admit('r'), b.admit('r')]).toEqual([true, true]);
    const stale = new RunBudget({ rateLimit: () => ({ remaining: 0, limit: 100, at: start - 1 }) }, ['r', 'r'], logger, start, () => start + 2);
    expect([stale.admit('r'), stale.admit('r')]).toEqual([true, true]);
  });

  it('defers every check of a registry that answered 429 until its Retry-After has passed', () => {
    const { logger, lines } = recorder();
    let now = start;
    const info: RateLimitInfo = { remaining: 0, at: start, limitedUntil: start + 60_000 };
    const b = new RunBudget({ rateLimit: (r) => (r === 'r' ? info : undefined) }, ['r', 'r', 'other', 'r'], logger, start, () => now);
    expect(b.admit('r')).toBe(false);
    expect(b.admit('other')).toBe(true);
    expect(b.mayFetch('r')).toBe(false);
    now = start + 60_001;
    info.remaining = undefined;
    expect(b.admit('r')).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toMatch(/^r: rate limited \(429\), asked to wait until .*; deferring its remaining checks \(3\) to the next run$/);
  });

  it('Docker Hub: HEADs are free, so checks go ahead and only the GETs of a change need budget', () => {
    const { logger } = recorder();
    const info: RateLimitInfo = { remaining: 11, limit: 100, at: start + 1 };
    const b = new RunBudget({ rateLimit: () => info }, Array(50).fill('docker.io'), logger, start, () => start + 2);
    expect(b.admit('docker.io')).toBe(true);
    expect(b.mayFetch('docker.io')).toBe(false); // 11 - 2 < 10
    info.remaining = 12;
    expect(b.mayFetch('docker.io')).toBe(true);
  });
});

describe('run budget with checks in flight', () => {
  it('counts checks still in flight against what is left, so a pool of workers stops at the reserve', () => {
    const start = 1_000_000;
    const { logger } = recorder();
    const info: RateLimitInfo = { remaining: 30, limit: 100, at: start + 1 };
    const b = new RunBudget({ rateLimit: () => info }, Array(40).fill('r'), logger, start, () => start + 2);
    // Workers start one check after another before any answers: remaining still says 30 each time.
    const started = Array.from({ length: 20 }, () => b.admit('r')).filter(Boolean).length;
    expect(started).toBe(20); // 30 left, 19 in flight: 11 > 10
    expect(b.admit('r')).toBe(false); // 20 in flight would leave 10: the reserve
    b.finished('r');
    info.remaining = 29; // one answered (and spent one); 19 still in flight: 10 left, still the reserve
    expect(b.admit('r')).toBe(false);
  });
});
