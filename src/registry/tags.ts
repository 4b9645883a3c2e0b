/**
 * Tags that are not versions of an image (quirk 17): cosign signatures, attestations and SBOMs
 * (`sha256-<64 hex>.sig|.att|.sbom`), and the OCI referrers fallback tags (`sha256-<64 hex>`).
 * watchRepo expansion drops them before includeTags/excludeTags apply.
 */
const ARTIFACT_TAG = /^(sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})(\.[a-z0-9]+)?$/;

export function isArtifactTag(tag: string): boolean {
  return ARTIFACT_TAG.test(tag);
}
