/**
 * Tags that name no image: cosign signatures, attestations and SBOMs (`sha256-<64 hex>.sig|.att|.sbom`),
 * and the tags registries without the OCI referrers API use as its fallback (`sha256-<64 hex>`).
 * watchRepo drops them before includeTags/excludeTags apply.
 */
const ARTIFACT_TAG = /^(sha256-[a-f0-9]{64}|sha512-[a-f0-9]{128})(\.[a-z0-9]+)?$/;

export function isArtifactTag(tag: string): boolean {
  return ARTIFACT_TAG.test(tag);
}
