/**
 * Content digests (`algorithm:encoded`). One home for the patterns, so a reference, a manifest and
 * a registry answer are held to the same rules.
 */

/** The OCI digest grammar, with the encoded part at least 32 characters long as image references require. */
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
/** The digests herald can verify: sha256 and sha512 in lowercase hex. */
const VERIFIABLE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

export function isVerifiableDigest(text: string): boolean {
  return VERIFIABLE.test(text);
}

/**
 * The first 12 characters of the encoded part, as people quote digests: `sha256:0123456789abcdef…` →
 * `0123456789ab`. `withAlgorithm` keeps the `sha256:` prefix. No digest: `-`.
 */
export function shortDigest(digest: string | null | undefined, withAlgorithm = false): string {
  if (!digest) return '-';
  const colon = digest.indexOf(':');
  return (withAlgorithm ? digest.slice(0, colon + 1) : '') + digest.slice(colon + 1, colon + 13);
}
