import { DOCKER_HUB, type ImageReference } from './reference.js';

/**
 * The web page of an image for people: Docker Hub and Quay pages, GHCR's package page (ghcr.io
 * redirects browsers there). Undefined for other registries; callers then fall back to the
 * org.opencontainers.image.source / .url labels.
 */
export function hubLink(ref: ImageReference): string | undefined {
  if (ref.registry === DOCKER_HUB) {
    return ref.repository.startsWith('library/')
      ? `https://hub.docker.com/_/${ref.repository.slice('library/'.length)}`
      : `https://hub.docker.com/r/${ref.repository}`;
  }
  if (ref.registry === 'ghcr.io') return `https://ghcr.io/${ref.repository}`;
  if (ref.registry === 'quay.io') return `https://quay.io/repository/${ref.repository}`;
  return undefined;
}
