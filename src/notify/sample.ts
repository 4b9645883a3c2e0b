import { newEventId, type HeraldEvent } from '../model/event.js';

/** A realistic sample event for `herald notify test`. */
export function sampleEvent(): HeraldEvent {
  return {
    id: newEventId(),
    status: 'update',
    image: 'docker.io/library/nginx:1.27',
    registry: 'docker.io',
    repository: 'library/nginx',
    tag: '1.27',
    digest: 'sha256:5f0574409b3add89581b96c68afe9e9c7b284651c3a974b6e8bac46bf95e6b7f',
    previousDigest: 'sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a',
    platform: 'linux/amd64',
    platformDigest: 'sha256:9ae4c7fc3cc0a6a6c4c1b1bde5cba4ba4a7e7a7fd2e8d0c5bd1e6b4a7d0f8c21',
    previousPlatformDigest: 'sha256:3f8a6c0b1f5d2e7c9a4b8d6e0f1c3a5b7d9e2f4a6c8b0d1e3f5a7c9b2d4e6f8a',
    mediaType: 'application/vnd.oci.image.index.v1+json',
    created: '2026-11-20T10:00:00Z',
    labels: { 'org.opencontainers.image.source': 'https://github.com/nginx/docker-nginx' },
    hubLink: 'https://hub.docker.com/_/nginx',
    metadata: { sample: true },
    detectedAt: new Date().toISOString(),
    error: null,
  };
}
