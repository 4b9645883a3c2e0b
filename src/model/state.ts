/** What herald remembers of one (image, platform). */
export interface ImageState {
  image: string;
  platform: string;
  digest: string | null;
  mediaType: string | null;
  platformDigest: string | null;
  created: string | null;
  labels: Record<string, string> | null;
  firstSeen: string;
  lastChecked: string | null;
  lastChanged: string | null;
  error: string | null;
  errorSince: string | null;
}

/** The key of a state in maps and sets: image name and platform. */
export function stateKey(image: string, platform: string): string {
  return `${image}\u0000${platform}`;
}
