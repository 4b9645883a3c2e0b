import { describe, expect, it } from 'vitest';
import { grantedPullScopes, scopeBatches } from '../../../src/registry/scopes.js';
import { parseRateLimitHeader, RateLimits } from '../../../src/registry/ratelimit.js';

function jwt(claims: unknown): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}.c2ln`;
}

describe('scope batches', () => {
  const scopes = Array.from({ length: 120 }, (_, i) => `repository:team/app-${i}:pull`);

  it('splits by count and keeps order', () => {
    const batches = scopeBatches('https://auth.example.com/token?service=x', scopes, 50, 100_000);
    expect(batches.map((b) => b.length)).toEqual([50, 50, 20]);
    expect(batches.flat()).toEqual(scopes);
  });

  it('keeps every realm URL under the length limit', () => {
    const base = 'https://auth.example.com/token?service=x';
    const batches = scopeBatches(base, scopes, 1000, 1000);
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) {
      const url = new URL(base);
      for (const s of batch) url.searchParams.append('scope', s);
      expect(url.href.length).toBeLessThanOrEqual(1000);
    }
    expect(batches.flat()).toEqual(scopes);
  });

  it('puts a scope longer than the limit in a batch of its own rather than dropping it', () => {
    const long = `repository:${'x'.repeat(200)}:pull`;
    expect(scopeBatches('https://a/t', ['repository:a:pull', long, 'repository:b:pull'], 50, 100)).toEqual([['repository:a:pull'], [long], ['repository:b:pull']]);
  });
});

describe('granted scopes of a token', () => {
  it('reads the pull scopes of a JWT access claim', () => {
    const token = jwt({
      access: [
        { type: 'repository', name: 'team/a', actions: ['pull'] },
        { type: 'repository', name: 'team/b', actions: [] },
        { type: 'repository', name: 'team/c', actions: ['pull', 'push'] },
        { type: 'repository', name: 'team/d', actions: ['*'] },
        'junk',
      ],
    });
    expect(grantedPullScopes(token)).toEqual(new Set(['repository:team/a:pull', 'repository:team/c:pull', 'repository:team/d:pull']));
  });

  it('knows nothing about opaque tokens', () => {
    expect(grantedPullScopes('djE6YWNtZS9hcGk6MTIz')).toBeUndefined();
    expect(grantedPullScopes('a.b.c')).toBeUndefined();
    expect(grantedPullScopes(jwt({ sub: 'x' }))).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('parses Docker Hub header values', () => {
    expect(parseRateLimitHeader('76;w=21600')).toEqual({ value: 76, window: 21600 });
    expect(parseRateLimitHeader('100')).toEqual({ value: 100 });
    expect(parseRateLimitHeader('0')).toEqual({ value: 0 });
    expect(parseRateLimitHeader('none')).toBeUndefined();
    expect(parseRateLimitHeader(undefined)).toBeUndefined();
  });

  it('tracks the last figures per registry, and 429s with their Retry-After', () => {
    let now = 1_000;
    const limits = new RateLimits(() => now);
    limits.observe('docker.io', 200, {});
    expect(limits.get('docker.io')).toBeUndefined();
    limits.observe('docker.io', 200, { 'ratelimit-limit': '100;w=21600', 'ratelimit-remaining': '76;w=21600' });
    expect(limits.get('docker.io')).toEqual({ remaining: 76, limit: 100, windowSeconds: 21600, at: 1_000 });
    now = 2_000;
    limits.observe('docker.io', 429, { 'ratelimit-remaining': '3;w=21600' }, 30_000);
    expect(limits.get('docker.io')).toMatchObject({ remaining: 0, limitedUntil: 32_000, at: 2_000 });
    limits.observe('ghcr.io', 429, {});
    expect(limits.get('ghcr.io')?.limitedUntil).toBe(2_000 + 60_000);
  });
});
