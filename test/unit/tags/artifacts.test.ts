import { describe, expect, it } from 'vitest';
import { isArtifactTag } from '../../../src/tags/artifacts.js';

describe('artifact tags', () => {
  it('recognises cosign/attestation/SBOM and referrers tags, not versions', () => {
    const hex = 'ab'.repeat(32);
    for (const t of [`sha256-${hex}.sig`, `sha256-${hex}.att`, `sha256-${hex}.sbom`, `sha256-${hex}`]) expect(isArtifactTag(t)).toBe(true);
    for (const t of ['1.2.3', 'latest', `sha256-${hex.slice(2)}.sig`, 'sha256-abc.sig', `v1-sha256-${hex}`]) expect(isArtifactTag(t)).toBe(false);
  });
});
