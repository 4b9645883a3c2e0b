import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RegistryError, UserError } from '../../../src/util/errors.js';
import {
  configDigestOf,
  formatPlatform,
  isIndexMediaType,
  MANIFEST_ACCEPT,
  MEDIA_TYPES,
  mediaTypeOfDocument,
  parseImageConfig,
  parsePlatform,
  platformMatches,
  platformsOf,
  selectPlatform,
} from '../../../src/registry/manifest.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

function entry(n: number, os: string, architecture: string, variant?: string, extra: Record<string, unknown> = {}) {
  return {
    mediaType: MEDIA_TYPES.ociManifest,
    digest: d(n),
    size: 100 + n,
    platform: variant === undefined ? { os, architecture } : { os, architecture, variant },
    ...extra,
  };
}

/** The shape BuildKit pushes: platform images plus one attestation manifest per platform. */
const buildkitIndex = {
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociIndex,
  manifests: [
    entry(1, 'linux', 'amd64'),
    entry(2, 'linux', 'arm64', 'v8'),
    entry(3, 'linux', 'arm', 'v7'),
    entry(4, 'linux', 'arm', 'v6'),
    entry(10, 'unknown', 'unknown', undefined, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(1) } }),
    entry(11, 'unknown', 'unknown', undefined, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': d(2) } }),
  ],
};

describe('media types', () => {
  it('accepts all four manifest types', () => {
    for (const t of [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest]) {
      expect(MANIFEST_ACCEPT.split(',').map((s) => s.trim())).toContain(t);
    }
  });
  it('recognises index types, with or without parameters', () => {
    expect(isIndexMediaType(MEDIA_TYPES.ociIndex)).toBe(true);
    expect(isIndexMediaType(`${MEDIA_TYPES.dockerList}; charset=utf-8`)).toBe(true);
    expect(isIndexMediaType(MEDIA_TYPES.ociManifest)).toBe(false);
    expect(isIndexMediaType(MEDIA_TYPES.dockerManifest)).toBe(false);
  });
  it('infers the type of an OCI document without mediaType', () => {
    expect(mediaTypeOfDocument({ schemaVersion: 2, manifests: [] })).toBe(MEDIA_TYPES.ociIndex);
    expect(mediaTypeOfDocument({ schemaVersion: 2, config: { digest: d(1) }, layers: [] })).toBe(MEDIA_TYPES.ociManifest);
    expect(mediaTypeOfDocument({ mediaType: MEDIA_TYPES.dockerList, manifests: [] })).toBe(MEDIA_TYPES.dockerList);
    expect(mediaTypeOfDocument('x')).toBeUndefined();
  });
});

describe('platforms', () => {
  it('parses and formats', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(formatPlatform({ os: 'windows', architecture: 'amd64' })).toBe('windows/amd64');
    for (const bad of ['linux', 'linux/', 'a/b/c/d', '']) expect(() => parsePlatform(bad)).toThrow(UserError);
  });

  it('round-trips', () => {
    const part = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    fc.assert(
      fc.property(part, part, fc.option(part, { nil: undefined }), (os, architecture, variant) => {
        const p = variant === undefined ? { os, architecture } : { os, architecture, variant };
        expect(parsePlatform(formatPlatform(p))).toEqual(p);
      }),
    );
  });

  it.each([
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm', 'linux/arm/v7', true],
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm/v6', 'linux/arm', false],
    ['linux/amd64', 'linux/amd64/v1', true],
    ['linux/amd64/v3', 'linux/amd64', false],
    ['linux/amd64', 'linux/x86_64', true],
    ['linux/arm64', 'linux/aarch64', true],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/s390x', 'linux/s390x', true],
  ])('%s vs %s → %s', (wanted, candidate, expected) => {
    expect(platformMatches(parsePlatform(wanted), parsePlatform(candidate))).toBe(expected);
  });
});

describe('selectPlatform', () => {
  it('finds arm64 when the index says arm64/v8', () => {
    expect(selectPlatform(buildkitIndex, parsePlatform('linux/arm64'))).toEqual({
      digest: d(2),
      mediaType: MEDIA_TYPES.ociManifest,
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
  });

  it('picks the exact variant', () => {
    expect(selectPlatform(buildkitIndex, parsePlatform('linux/arm/v6'))?.digest).toBe(d(4));
    expect(selectPlatform(buildkitIndex, parsePlatform('linux/arm/v7'))?.digest).toBe(d(3));
    expect(selectPlatform(buildkitIndex, parsePlatform('linux/amd64'))?.digest).toBe(d(1));
  });

  it('prefers an exactly spelled variant over a normalized match, whatever the order', () => {
    const index = { manifests: [entry(1, 'linux', 'arm'), entry(2, 'linux', 'arm', 'v7')] };
    expect(selectPlatform(index, parsePlatform('linux/arm/v7'))?.digest).toBe(d(2));
    expect(selectPlatform(index, parsePlatform('linux/arm'))?.digest).toBe(d(1));
  });

  it('never selects attestation entries', () => {
    const index = { manifests: [entry(10, 'unknown', 'unknown'), entry(11, 'linux', 'amd64', undefined, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } })] };
    expect(selectPlatform(index, { os: 'unknown', architecture: 'unknown' })).toBeUndefined();
    expect(selectPlatform(index, parsePlatform('linux/amd64'))).toBeUndefined();
  });

  it('gives undefined when the platform is missing, and lists what there is', () => {
    expect(selectPlatform(buildkitIndex, parsePlatform('linux/s390x'))).toBeUndefined();
    expect(platformsOf(buildkitIndex).map(formatPlatform)).toEqual(['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/arm/v6']);
  });

  it('copes with junk', () => {
    for (const junk of [null, 42, 'x', {}, { manifests: 'x' }, { manifests: [null, { digest: 5 }, { digest: d(1) }, { digest: d(1), platform: { os: 1 } }] }]) {
      expect(selectPlatform(junk, parsePlatform('linux/amd64'))).toBeUndefined();
      expect(platformsOf(junk)).toEqual([]);
    }
  });

  it('works on a Docker manifest list', () => {
    const list = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerList,
      manifests: [
        { mediaType: MEDIA_TYPES.dockerManifest, digest: d(5), size: 1, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: MEDIA_TYPES.dockerManifest, digest: d(6), size: 1, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
      ],
    };
    expect(selectPlatform(list, parsePlatform('linux/arm64'))).toMatchObject({ digest: d(6), mediaType: MEDIA_TYPES.dockerManifest });
  });
});

describe('configDigestOf', () => {
  it('reads the config digest', () => {
    expect(configDigestOf({ schemaVersion: 2, config: { mediaType: MEDIA_TYPES.ociConfig, digest: d(7), size: 3 }, layers: [] })).toBe(d(7));
  });
  it.each([
    ['not an object', 'x'],
    ['an index', buildkitIndex],
    ['schema 1', { schemaVersion: 1, fsLayers: [] }],
    ['no config', { schemaVersion: 2, layers: [] }],
    ['bad digest', { config: { digest: 'nope' } }],
  ])('throws RegistryError for %s', (_name, doc) => {
    expect(() => configDigestOf(doc)).toThrow(RegistryError);
  });
});

describe('parseImageConfig', () => {
  it('reads created and labels', () => {
    const blob = Buffer.from(
      JSON.stringify({
        created: '2026-11-20T10:00:00Z',
        architecture: 'arm64',
        variant: 'v8',
        os: 'linux',
        config: { Labels: { 'org.opencontainers.image.version': '1.2.3', weird: 5 } },
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    expect(parseImageConfig(blob)).toEqual({
      created: '2026-11-20T10:00:00Z',
      labels: { 'org.opencontainers.image.version': '1.2.3' },
    });
  });
  it('handles null labels and missing fields', () => {
    expect(parseImageConfig(Buffer.from('{"config":{"Labels":null}}'))).toEqual({ labels: {} });
    expect(parseImageConfig(Buffer.from('{}'))).toEqual({ labels: {} });
  });
  it('falls back to container_config labels', () => {
    expect(parseImageConfig(Buffer.from('{"container_config":{"Labels":{"a":"b"}}}')).labels).toEqual({ a: 'b' });
  });
  it('throws RegistryError on junk', () => {
    expect(() => parseImageConfig(Buffer.from('not json'))).toThrow(RegistryError);
    expect(() => parseImageConfig(Buffer.from('[1]'))).toThrow(RegistryError);
  });
});
