/** A container (a Docker container, or one container of a Kubernetes pod) that runs an image. */
export interface RunningContainer {
  /** The name of the source that listed it (`sources[].name`). */
  source: string;
  /** Docker: the container name without its leading slash. Kubernetes: `pod/container`. */
  name: string;
  /** Docker: the container id. Kubernetes: the pod's uid. */
  id: string;
  /** Kubernetes only. */
  namespace?: string;
  /**
   * The manifest digest it runs, as its engine reports it (Docker: the image's RepoDigests entry
   * for the repository; Kubernetes: the container status' imageID). Null when the engine knows
   * none: an image built locally and never pulled, or pulled again since (the engine forgot it).
   */
  runningDigest: string | null;
}

/** A container as events, `images inspect` and the API show it: with whether it runs behind its tag. */
export interface ContainerReport extends RunningContainer {
  outdated: boolean;
}

/**
 * Whether a container runs behind the registry: it runs a known digest that is neither the tag's
 * (index) digest nor its platform manifest's. An unknown running digest is never behind.
 */
export function runsBehind(container: RunningContainer, digest: string | null, platformDigest: string | null): boolean {
  if (container.runningDigest === null || digest === null) return false;
  return container.runningDigest !== digest && container.runningDigest !== platformDigest;
}

export function containerReports(containers: readonly RunningContainer[], digest: string | null, platformDigest: string | null): ContainerReport[] {
  return containers.map((c) => ({ ...c, outdated: runsBehind(c, digest, platformDigest) }));
}
