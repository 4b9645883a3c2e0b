/**
 * The API token check is constant-time: whatever the caller sends (right, wrong, shorter, longer,
 * missing, not Bearer), the decision goes through crypto.timingSafeEqual over two buffers of the
 * same length, so neither the token's content nor its length shows in the response time. A timing
 * measurement would be flaky on a shared machine; watching the comparison itself is not.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it, vi } from 'vitest';

const calls: Array<[number, number]> = [];
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      calls.push([a.byteLength, b.byteLength]);
      return real.timingSafeEqual(a, b);
    },
  };
});

const { authorized } = await import('../../../src/server/http.js');

const request = (authorization?: string): IncomingMessage => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;

describe('API token comparison', () => {
  const token = 's3cret-token-0123456789';

  it.each([
    ['the right token', `Bearer ${token}`, true],
    ['the right token, scheme in another case', `bearer ${token}`, true],
    ['a wrong token of the same length', `Bearer ${token.replace(/.$/, 'x')}`, false],
    ['a prefix of the token', `Bearer ${token.slice(0, 5)}`, false],
    ['the token and more', `Bearer ${token}${token}`, false],
    ['an empty token', 'Bearer ', false],
    ['another scheme', `Basic ${token}`, false],
    ['no header', undefined, false],
  ])('%s: decided by timingSafeEqual over equal-length buffers', (_what, header, expected) => {
    calls.length = 0;
    expect(authorized(request(header), token)).toBe(expected);
    expect(calls).toHaveLength(1);
    const [a, b] = calls[0]!;
    expect(a).toBe(b);
    expect(a).toBeGreaterThanOrEqual(32);
  });

  it('is open without a configured token', () => {
    expect(authorized(request(), undefined)).toBe(true);
  });
});
