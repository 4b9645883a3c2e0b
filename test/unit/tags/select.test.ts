/** Which tags a watchRepo image follows: filters, order, maxTags, newerOnly (src/tags/select.ts). */
import { describe, expect, it } from 'vitest';
import { parseReference } from '../../../src/model/reference.js';
import { selectTags, type TagOptions } from '../../../src/tags/select.js';
import { VersionError } from '../../../src/tags/versions.js';

const sig = (c: string) => `sha256-${c.repeat(64)}.sig`;

function options(name: string, extra: Partial<TagOptions> = {}): TagOptions {
  return {
    ref: parseReference(name), includeTags: [], excludeTags: [], sortTags: 'default', maxTags: 0,
    newerOnly: false, sameFlavour: true, includePrereleases: false, ...extra,
  };
}

// Registry order as a GHCR-like registry lists it: oldest first.
const listed = ['1.0.0', '1.1.0', 'latest', sig('a'), '1.2.0', '1.2.0-alpine', `sha256-${'b'.repeat(64)}.att`, '1.10.0', '2.0.0-rc1', 'edge', '1.1.0'];

describe('selectTags', () => {
  it('drops cosign and attestation tags and duplicates, and keeps registry order by default', () => {
    expect(selectTags(listed, options('ghcr.io/acme/api:latest')).kept).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.2.0-alpine', '1.10.0', '2.0.0-rc1', 'edge']);
  });

  it('never returns the image its own tag (that is checked on its own)', () => {
    expect(selectTags(listed, options('ghcr.io/acme/api:1.2.0')).kept).not.toContain('1.2.0');
  });

  it('applies includeTags and excludeTags as unanchored regexes', () => {
    const kept = selectTags(listed, options('ghcr.io/acme/api:latest', { includeTags: ['\\d+\\.\\d+\\.0'], excludeTags: ['-rc', 'alpine'] })).kept;
    expect(kept).toEqual(['1.0.0', '1.1.0', '1.2.0', '1.10.0']);
  });

  it.each<[TagOptions['sortTags'], string[]]>([
    ['default', ['1.0.0', '1.1.0', '1.2.0', '1.2.0-alpine', '1.10.0', '2.0.0-rc1', 'edge']],
    ['reverse', ['edge', '2.0.0-rc1', '1.10.0', '1.2.0-alpine', '1.2.0', '1.1.0', '1.0.0']],
    ['lexicographical', ['1.0.0', '1.1.0', '1.10.0', '1.2.0', '1.2.0-alpine', '2.0.0-rc1', 'edge']],
    // Equal versions (1.2.0, 1.2.0-alpine) by tag text ascending, as Diun's semver sort.
    ['semver', ['2.0.0-rc1', '1.10.0', '1.2.0', '1.2.0-alpine', '1.1.0', '1.0.0', 'edge']],
  ])('sortTags %s', (sortTags, expected) => {
    expect(selectTags(listed, options('ghcr.io/acme/api:latest', { sortTags })).kept).toEqual(expected);
  });

  it('applies maxTags after sorting: with semver it keeps the newest', () => {
    const kept = selectTags(listed, options('ghcr.io/acme/api:latest', { sortTags: 'semver', maxTags: 3, excludeTags: ['-'] }));
    expect(kept.kept).toEqual(['1.10.0', '1.2.0', '1.1.0']);
    expect(kept.dropped).toMatchObject({ artifacts: 2, excluded: 2, overMax: 2 });
  });

  it('with newerOnly keeps only newer tags of the same flavour, without pre-releases', () => {
    const tags = ['1.27.1-alpine', '1.27.2-alpine', '1.27.3-alpine', '1.27.3', '1.28.0-alpine', '1.28-alpine', '1.29.0-rc1-alpine', '1.27.3-alpine-slim', 'mainline-alpine', sig('c')];
    const kept = selectTags(tags, options('nginx:1.27.2-alpine', { newerOnly: true, sortTags: 'semver' }));
    expect(kept.kept).toEqual(['1.28.0-alpine', '1.27.3-alpine']);
    expect(selectTags(tags, options('nginx:1.27.2-alpine', { newerOnly: true, includePrereleases: true, sortTags: 'semver' })).kept).toEqual(['1.29.0-rc1-alpine', '1.28.0-alpine', '1.27.3-alpine']);
    expect(selectTags(tags, options('nginx:1.27.2-alpine', { newerOnly: true, sameFlavour: false, sortTags: 'semver' })).kept).toEqual(['1.28.0-alpine', '1.28-alpine', '1.27.3', '1.27.3-alpine', '1.27.3-alpine-slim']);
  });

  it('refuses newerOnly with a tag that is not a version, as a typed error', () => {
    expect(() => selectTags(listed, options('nginx:latest', { newerOnly: true }))).toThrow(VersionError);
  });
});

describe("README's watchRepo examples select what they say", () => {
  it('example 1: nginx:1.27.2-alpine with newerOnly', () => {
    const repo = ['1.27.2-alpine', '1.27.3-alpine', '1.28.0-alpine', '1.28.0', '1.27-alpine', '1.27.3-alpine-slim', '1.29.0-rc1-alpine', 'mainline-alpine', 'latest', sig('d')];
    const opts = options('nginx:1.27.2-alpine', { newerOnly: true, sortTags: 'semver' });
    expect(selectTags(repo, opts).kept).toEqual(['1.28.0-alpine', '1.27.3-alpine']);
    const later = [...repo, '1.28.1-alpine', '1.28.1', '1.28-alpine', '1.28.1-alpine-slim', '1.30.0-rc1-alpine'];
    expect(selectTags(later, opts).kept).toEqual(['1.28.1-alpine', '1.28.0-alpine', '1.27.3-alpine']);
  });

  it('example 2: five newest x.y.z of ghcr.io/acme/api', () => {
    const repo = ['1.0.0', '1.1.0', '1.2.0', '1.3.0', '1.4.0', '1.4.1', '1.4.2', 'v1.5.0', '1.5.0-rc1', '1.5.0-debian', '1.5.0', sig('e')];
    const opts = options('ghcr.io/acme/api:1.4.2', { includeTags: ['^\\d+\\.\\d+\\.\\d+$'], sortTags: 'semver', maxTags: 5 });
    expect(selectTags(repo, opts).kept).toEqual(['1.5.0', '1.4.1', '1.4.0', '1.3.0', '1.2.0']);
    expect(selectTags([...repo, '1.6.0'], opts).kept).toEqual(['1.6.0', '1.5.0', '1.4.1', '1.4.0', '1.3.0']);
  });

  it('example 3: grafana latest with excludeTags', () => {
    const versions = Array.from({ length: 15 }, (_, i) => `11.${Math.floor(i / 5)}.${i % 5}`);
    const repo = ['latest', 'main', 'main-ubuntu', ...versions, '11.2.4-ubuntu', '11.3.0-beta1', '11.2.2-security-01'];
    const opts = options('grafana/grafana:latest', { excludeTags: ['-', '^main'], sortTags: 'semver', maxTags: 10 });
    expect(selectTags(repo, opts).kept).toEqual(['11.2.4', '11.2.3', '11.2.2', '11.2.1', '11.2.0', '11.1.4', '11.1.3', '11.1.2', '11.1.1', '11.1.0']);
    expect(selectTags([...repo, '11.3.1'], opts).kept[0]).toBe('11.3.1');
  });
});
