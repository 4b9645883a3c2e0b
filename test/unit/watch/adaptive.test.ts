import { describe, expect, it } from 'vitest';
import { AdaptiveBounds, GROWTH_FACTOR, MAX_ADAPTIVE } from '../../../src/watch/adaptive.js';
import type { RateLimitInfo } from '../../../src/registry/ratelimit.js';

const none = { rateLimit: () => undefined };

describe('AdaptiveBounds', () => {
  it('grows a registry by one slot per fast answer, up to GROWTH_FACTOR times its bound, and adds the slots to the pool', () => {
    const b = new AdaptiveBounds(() => 10, () => true, none);
    expect(b.limitOf('r')).toBe(10);
    expect(b.concurrency(10)).toBe(10);
    for (let i = 0; i < 5; i++) b.answered('r', 25);
    expect(b.limitOf('r')).toBe(15);
    expect(b.concurrency(10)).toBe(15);
    for (let i = 0; i < 200; i++) b.answered('r', 25);
    expect(b.limitOf('r')).toBe(10 * GROWTH_FACTOR);
    expect(b.peak()).toBe(10 * GROWTH_FACTOR);
    // Never past MAX_ADAPTIVE, whatever the bound.
    const wide = new AdaptiveBounds(() => 30, () => true, none);
    for (let i = 0; i < 500; i++) wide.answered('r', 5);
    expect(wide.limitOf('r')).toBe(MAX_ADAPTIVE);
  });

  it('gives slots back when answers slow down as more are in flight', () => {
    const b = new AdaptiveBounds(() => 4, () => true, none);
    for (let i = 0; i < 6; i++) b.answered('r', 20);
    expect(b.limitOf('r')).toBe(10);
    for (let i = 0; i < 3; i++) b.answered('r', 200); // queueing: ten times the fastest
    expect(b.limitOf('r')).toBe(7);
    for (let i = 0; i < 50; i++) b.answered('r', 200);
    expect(b.limitOf('r')).toBe(4); // never below its bound
  });

  it('a registry that sends rate-limit figures stays at its bound for the rest of the run', () => {
    let info: RateLimitInfo | undefined;
    const b = new AdaptiveBounds(() => 10, () => true, { rateLimit: () => info });
    for (let i = 0; i < 5; i++) b.answered('r', 20);
    expect(b.limitOf('r')).toBe(15);
    info = { limit: 100, remaining: 90, at: Date.now() };
    b.answered('r', 20);
    expect(b.limitOf('r')).toBe(10);
    info = undefined;
    for (let i = 0; i < 5; i++) b.answered('r', 20);
    expect(b.limitOf('r')).toBe(10);
    expect(b.concurrency(10)).toBe(10);
  });

  it('a failure (a 429, an error) puts the registry back at its bound; other registries keep what they earned', () => {
    const b = new AdaptiveBounds(() => 10, () => true, none);
    for (let i = 0; i < 5; i++) {
      b.answered('a', 20);
      b.answered('b', 20);
    }
    expect(b.concurrency(10)).toBe(20);
    b.failed('a');
    expect(b.limitOf('a')).toBe(10);
    expect(b.limitOf('b')).toBe(15);
    b.answered('a', 20);
    expect(b.limitOf('a')).toBe(10);
    expect(b.concurrency(10)).toBe(15);
  });

  it('a registry that may not grow (its own concurrency, or watch.workers set) keeps its bound', () => {
    const b = new AdaptiveBounds(() => 10, (r) => r !== 'fixed', none);
    for (let i = 0; i < 20; i++) b.answered('fixed', 10);
    expect(b.limitOf('fixed')).toBe(10);
    expect(b.concurrency(10)).toBe(10);
  });
});
