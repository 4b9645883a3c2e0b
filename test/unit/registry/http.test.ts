import { describe, expect, it } from 'vitest';
import { parseRateLimit } from '../../../src/registry/http.js';

describe('transport helpers', () => {
  it('reads RateLimit-Remaining in Docker Hub form', () => {
    expect(parseRateLimit('76;w=21600')).toBe(76);
    expect(parseRateLimit('0')).toBe(0);
    expect(parseRateLimit('x')).toBeUndefined();
    expect(parseRateLimit(undefined)).toBeUndefined();
  });
});

describe('artifact tags', () => {
  it('recognises cosign/attestation/SBOM and referrers tags, not versions', async () => {
    const { isArtifactTag } = await import('../../../src/tags/artifacts.js');
    const hex = 'ab'.repeat(32);
    for (const t of [`sha256-${hex}.sig`, `sha256-${hex}.att`, `sha256-${hex}.sbom`, `sha256-${hex}`]) expect(isArtifactTag(t)).toBe(true);
    for (const t of ['1.2.3', 'latest', `sha256-${hex.slice(2)}.sig`, 'sha256-abc.sig', `v1-sha256-${hex}`]) expect(isArtifactTag(t)).toBe(false);
  });
});
