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
  /**
   * The registry digest last reported as one that running containers are behind (sources only): an
   * outdated container is reported once per registry digest. Absent or null: none reported.
   */
  outdatedDigest?: string | null;
  /** The sources that list it (`config` for the config's images); absent in states from before sources. */
  sources?: string[];
}

/** The key of a state in maps and sets: image name and platform. */
export function stateKey(image: string, platform: string): string {
  return `${image}\u0000${platform}`;
}
