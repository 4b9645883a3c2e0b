import { describe, expect, it } from 'vitest';
import { formatMs, oneLine, parseRateLimit, parseRetryAfter } from '../../src/registry/http.js';

describe('transport helpers', () => {
  it('parses Retry-After as seconds or an HTTP-date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
  it('reads RateLimit-Remaining in Docker Hub form', () => {
    expect(parseRateLimit('76;w=21600')).toBe(76);
    expect(parseRateLimit('0')).toBe(0);
    expect(parseRateLimit('x')).toBeUndefined();
    expect(parseRateLimit(undefined)).toBeUndefined();
  });
  it('formats durations for messages', () => {
    expect(formatMs(15_000)).toBe('15s');
    expect(formatMs(300)).toBe('300ms');
    expect(formatMs(1_500)).toBe('2s');
  });
  it('keeps messages on one line', () => {
    expect(oneLine('a\n  b\tc')).toBe('a b c');
    expect(oneLine('x'.repeat(300), 10)).toHaveLength(10);
  });
});

describe('artifact tags', () => {
  it('recognises cosign/attestation/SBOM and referrers tags, not versions', async () => {
    const { isArtifactTag } = await import('../../src/registry/tags.js');
    const hex = 'ab'.repeat(32);
    for (const t of [`sha256-${hex}.sig`, `sha256-${hex}.att`, `sha256-${hex}.sbom`, `sha256-${hex}`]) expect(isArtifactTag(t)).toBe(true);
    for (const t of ['1.2.3', 'latest', `sha256-${hex.slice(2)}.sig`, 'sha256-abc.sig', `v1-sha256-${hex}`]) expect(isArtifactTag(t)).toBe(false);
  });
});
