/**
 * Versions in tags: how real tags parse, which tags count as newer than a pinned one (the user's
 * question: "what would I be told about?"), and properties of the order over random input.
 * Tag sets are shaped like the real ones of nginx, node, postgres, python, alpine, grafana,
 * traefik and linuxserver images.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import semver from 'semver';
import {
  compareVersions,
  compareVersionTags,
  isNewer,
  parseTag,
  parseVersion,
  sortSemverDescending,
  VersionError,
  type TagVersion,
} from '../../../src/tags/versions.js';

const defaults = { sameFlavour: true, includePrereleases: false };

/** The tags of `set` newer than `current`, newest first: what newerOnly would watch. */
function newer(set: string[], current: string, opts = defaults): string[] {
  const cur = parseVersion(current);
  return sortSemverDescending(set.filter((t) => isNewer(parseTag(t), cur, opts)));
}

const nginx = [
  'latest', 'alpine', 'mainline-alpine', 'stable-alpine', 'mainline', 'stable', 'perl', 'alpine-slim',
  '1', '1-alpine', '1.27', '1.27-alpine', '1.27-alpine-slim', '1.27.2', '1.27.2-alpine', '1.27.2-alpine-slim',
  '1.27.2-alpine3.20', '1.27.2-alpine-perl', '1.27.2-bookworm', '1.27.2-perl', '1.26.2-alpine', '1.26.2',
  '1.27.3', '1.27.3-alpine', '1.27.3-alpine-slim', '1.27.3-alpine3.20', '1.27.10-alpine', '1.28.0', '1.28.0-alpine',
  '1.28-alpine', '1.29.0-rc1-alpine', '1.29.0-alpine-perl',
];
const node = [
  'latest', 'lts', 'lts-alpine', 'current-alpine', 'iron-bookworm-slim', 'jod-bookworm-slim', 'bookworm-slim',
  '22', '22-bookworm-slim', '22.11', '22.11-bookworm-slim', '22.11.0', '22.11.0-bookworm-slim', '22.11.0-alpine3.20',
  '22.12.0-bookworm-slim', '22.12.0-bookworm', '23.3.0-bookworm-slim', '20.18.1-bookworm-slim', '23.3.0-alpine',
];
const postgres = [
  'latest', 'alpine', 'bookworm', '16', '17', '15', '16-alpine', '17-bookworm', '16.6', '17.2', '17.2-bookworm',
  '17.2-alpine3.21', '16.6-bookworm', '17.1-bookworm', '18beta1', '18beta1-bookworm', '17.3-bookworm',
];
const python = [
  'latest', 'slim', 'slim-bookworm', '3', '3-slim', '3.13', '3.13-slim-bookworm', '3.13.1', '3.13.1-slim',
  '3.13.1-slim-bookworm', '3.13.0-slim-bookworm', '3.12.8-slim-bookworm', '3.13.2-slim-bookworm',
  '3.14.0a2-slim-bookworm', '3.14.0rc1-slim-bookworm', '3.14.0-slim-bookworm', '3.13.1-alpine3.21',
];
const alpine = ['latest', 'edge', '3', '3.19', '3.20', '3.21', '3.19.4', '3.20.3', '3.20.4', '3.21.0', '20240923', '20240807'];
const grafana = ['latest', 'main', 'main-ubuntu', '11.2.2', '11.3.0', '11.3.0-ubuntu', '11.3.1', '11.3.1-ubuntu', '11.3.0-security-01', '11.4.0-beta1', '11.4.0-beta1-ubuntu', '12.0.0'];
const traefik = ['latest', 'chabichou', 'v3', 'v3.2', '3.2', 'v3.2.0', 'v3.2.1', '3.2.1', 'v3.2.2', 'v3.3.0-rc1', 'v3.3.0-beta1', 'v2.11.14', 'v3.10.0'];
const linuxserver = [
  'latest', 'develop', 'version-1.2.3', 'version-1.2.4', '1.2.3-ls45', '1.2.3-ls46', '1.2.4-ls46', '1.2.4-ls47',
  'amd64-1.2.3-ls45', 'amd64-1.2.4-ls46', 'arm64v8-1.2.4-ls46', 'amd64-latest', '1.2.2-ls44', '1.10.0-ls50',
];
const sonarr = ['4.0.11.2680-ls262', '4.0.11.2680-ls263', '4.0.12.2823-ls264', '4.0.10.2544-ls259', 'version-4.0.11.2680', 'version-4.0.12.2823', '4.0.12-develop'];

describe('parsing real tag shapes', () => {
  it.each([
    ['1.27.2-alpine', { prefix: '', core: ['1', '27', '2'], pre: null, suffix: '-alpine', build: null, flavour: '#.#.#-alpine' }],
    ['1.27-alpine-slim', { core: ['1', '27'], suffix: '-alpine-slim', flavour: '#.#-alpine-slim' }],
    ['1.27.2-alpine3.20', { suffix: '-alpine3.20', flavour: '#.#.#-alpine3.20' }],
    ['22.11.0-bookworm-slim', { core: ['22', '11', '0'], flavour: '#.#.#-bookworm-slim' }],
    ['17.2-bookworm', { core: ['17', '2'], flavour: '#.#-bookworm' }],
    ['16', { core: ['16'], flavour: '#' }],
    ['18beta1', { core: ['18'], pre: 'beta.1', flavour: '#' }],
    ['3.13.1-slim-bookworm', { flavour: '#.#.#-slim-bookworm' }],
    ['3.14.0a2-slim-bookworm', { pre: 'a.2', flavour: '#.#.#-slim-bookworm' }],
    ['3.14.0rc1-slim-bookworm', { pre: 'rc.1', flavour: '#.#.#-slim-bookworm' }],
    ['3.20.3', { core: ['3', '20', '3'], flavour: '#.#.#' }],
    ['2024.10.1', { core: ['2024', '10', '1'], flavour: '#.#.#' }],
    ['1.2.3.4', { core: ['1', '2', '3', '4'], flavour: '#.#.#.#' }],
    ['11.3.0-ubuntu', { flavour: '#.#.#-ubuntu' }],
    ['v3.2.1', { prefix: 'v', flavour: 'v#.#.#' }],
    ['v3.3.0-rc1', { prefix: 'v', pre: 'rc.1', flavour: 'v#.#.#' }],
    ['1.0.0-beta.2', { pre: 'beta.2', flavour: '#.#.#' }],
    ['1.0.0-alpha', { pre: 'alpha', flavour: '#.#.#' }],
    ['1.29.0-rc1-alpine', { pre: 'rc.1', suffix: '-alpine', flavour: '#.#.#-alpine' }],
    ['version-1.2.3', { prefix: 'version-', flavour: 'version-#.#.#' }],
    ['1.2.3-ls45', { build: '45', buildKind: 'ls', suffix: '', flavour: '#.#.#-ls#' }],
    ['amd64-1.2.3-ls45', { prefix: 'amd64-', build: '45', flavour: 'amd64-#.#.#-ls#' }],
    ['4.0.11.2680-ls262', { core: ['4', '0', '11', '2680'], build: '262', flavour: '#.#.#.#-ls#' }],
    ['17.2.0-debian-12-r3', { suffix: '-debian-12', build: '3', buildKind: 'r', flavour: '#.#.#-debian-12-r#' }],
    ['21.0.5_11-jdk-noble', { core: ['21', '0', '5'], build: '11', buildKind: '_', suffix: '-jdk-noble', flavour: '#.#.#_#-jdk-noble' }],
    ['1.2.3-2', { build: '2', buildKind: '', flavour: '#.#.#-#' }],
  ])('%s', (tag, expected) => {
    expect(parseTag(tag)).toMatchObject({ tag, ...expected });
  });

  it.each(['latest', 'alpine', 'mainline-alpine', 'lts-alpine', 'bookworm-slim', 'alpine3.20', 'edge', 'chabichou', '1.2.3.4.5', 'main-ubuntu', `sha256-${'a'.repeat(64)}.sig`, '', 'x'.repeat(200), 'a b', '1.2.3alpine'])(
    '%j is not a version',
    (tag) => {
      expect(parseTag(tag)).toBeNull();
      expect(() => parseVersion(tag)).toThrow(VersionError);
    },
  );
});

describe('which tags are newer than a pinned one (same flavour, no pre-releases)', () => {
  it.each<[string, string[], string, string[]]>([
    ['nginx', nginx, '1.27.2-alpine', ['1.28.0-alpine', '1.27.10-alpine', '1.27.3-alpine']],
    ['nginx', nginx, '1.27-alpine', ['1.28-alpine']],
    ['nginx', nginx, '1.27.2', ['1.28.0', '1.27.3']],
    ['node', node, '22.11.0-bookworm-slim', ['23.3.0-bookworm-slim', '22.12.0-bookworm-slim']],
    ['node', node, '22-bookworm-slim', []],
    ['postgres', postgres, '16', ['17']],
    ['postgres', postgres, '17.2-bookworm', ['17.3-bookworm']],
    ['python', python, '3.13.1-slim-bookworm', ['3.14.0-slim-bookworm', '3.13.2-slim-bookworm']],
    ['alpine', alpine, '3.20.3', ['3.21.0', '3.20.4']],
    ['alpine', alpine, '3.20', ['3.21']],
    ['grafana', grafana, '11.3.0', ['12.0.0', '11.3.1']],
    ['grafana', grafana, '11.3.0-ubuntu', ['11.3.1-ubuntu']],
    ['traefik', traefik, 'v3.2.1', ['v3.10.0', 'v3.2.2']],
    ['linuxserver', linuxserver, '1.2.3-ls45', ['1.10.0-ls50', '1.2.4-ls47', '1.2.4-ls46', '1.2.3-ls46']],
    ['linuxserver', linuxserver, 'amd64-1.2.3-ls45', ['amd64-1.2.4-ls46']],
    ['linuxserver', linuxserver, 'version-1.2.3', ['version-1.2.4']],
    ['sonarr', sonarr, '4.0.11.2680-ls262', ['4.0.12.2823-ls264', '4.0.11.2680-ls263']],
  ])('%s pinned at %s', (_name, set, current, expected) => {
    expect(newer(set, current)).toEqual(expected);
  });

  it('compares dates written with dashes, and MinIO-style date-times, as versions', () => {
    const minio = ['RELEASE.2024-10-02T17-50-41Z', 'RELEASE.2024-11-07T00-52-20Z', 'RELEASE.2024-10-13T13-34-11Z', 'RELEASE.2024-10-02T17-50-41Z.fips', 'latest'];
    expect(newer(minio, 'RELEASE.2024-10-02T17-50-41Z')).toEqual(['RELEASE.2024-11-07T00-52-20Z', 'RELEASE.2024-10-13T13-34-11Z']);
    const dated = ['2024-09-30', '2024-10-01', '2024-11-05', '2025-01-02', '2024-11-05-alpine', '2024-13-01', '20241101'];
    expect(newer(dated, '2024-10-01')).toEqual(['2025-01-02', '2024-11-05']);
    expect(newer(dated, '2024-10-01-alpine')).toEqual(['2024-11-05-alpine']);
    expect(parseTag('noble-2024-10-11')).toMatchObject({ prefix: 'noble-', core: ['2024', '10', '11'], flavour: 'noble-#-#-#' });
    // Not a date (month 13), or a version with a dated suffix: read as before.
    expect(parseTag('2024-13-01')?.flavour).toBe('#-13-01');
    expect(parseTag('1.2.3-2024-10-01')).toMatchObject({ core: ['1', '2', '3'], suffix: '-2024-10-01' });
  });

  it('follows pre-releases when the pinned tag is one', () => {
    expect(newer(nginx, '1.29.0-rc1-alpine')).toEqual([]);
    expect(newer([...nginx, '1.29.0-rc2-alpine', '1.29.0-alpine', '1.29.0-beta1-alpine'], '1.29.0-rc1-alpine')).toEqual(['1.29.0-alpine', '1.29.0-rc2-alpine']);
    expect(newer(python, '3.14.0a2-slim-bookworm')).toEqual(['3.14.0-slim-bookworm', '3.14.0rc1-slim-bookworm']);
    expect(newer(traefik, 'v3.3.0-beta1')).toEqual(['v3.10.0', 'v3.3.0-rc1']);
  });

  it('includes pre-releases when asked, and other flavours when sameFlavour is off', () => {
    expect(newer(nginx, '1.27.2-alpine', { sameFlavour: true, includePrereleases: true })).toEqual(['1.29.0-rc1-alpine', '1.28.0-alpine', '1.27.10-alpine', '1.27.3-alpine']);
    expect(newer(postgres, '16', { sameFlavour: true, includePrereleases: true })).toEqual(['18beta1', '17']);
    // Any flavour: every tag with a higher version, whatever its shape (1.28 counts as 1.28.0).
    expect(newer(alpine, '3.20.3', { sameFlavour: false, includePrereleases: false })).toEqual(['20240923', '20240807', '3.21.0', '3.21', '3.20.4']);
  });

  it('never counts the same version as newer, however it is written', () => {
    const v = parseVersion('1.2.0');
    for (const t of ['1.2.0', '01.2.0', '1.02.0', 'v1.2.0']) expect(isNewer(parseTag(t), v, { sameFlavour: false, includePrereleases: true })).toBe(false);
  });
});

describe('semver order of real tag sets', () => {
  it('sorts newest first with non-versions last, in their listed order', () => {
    expect(sortSemverDescending(alpine)).toEqual(['20240923', '20240807', '3.21.0', '3.21', '3.20.4', '3.20.3', '3.20', '3.19.4', '3.19', '3', 'latest', 'edge']);
    expect(sortSemverDescending(traefik.filter((t) => t.startsWith('v')))).toEqual(['v3.10.0', 'v3.3.0-rc1', 'v3.3.0-beta1', 'v3.2.2', 'v3.2.1', 'v3.2.0', 'v3.2', 'v3', 'v2.11.14']);
    expect(sortSemverDescending(['1.2.3-ls45', '1.2.10-ls1', '1.2.3-ls100', '1.2.3-ls9', 'develop'])).toEqual(['1.2.10-ls1', '1.2.3-ls100', '1.2.3-ls45', '1.2.3-ls9', 'develop']);
  });

  it('orders pre-releases as semver does: alpha < beta < rc < release, numbers by value', () => {
    const tags = ['1.0.0', '1.0.0-rc10', '1.0.0-rc2', '1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-alpha', '1.0.0-alpha.1', '0.9.9'];
    expect(sortSemverDescending(tags)).toEqual(['1.0.0', '1.0.0-rc10', '1.0.0-rc2', '1.0.0-beta.11', '1.0.0-beta.2', '1.0.0-alpha.1', '1.0.0-alpha', '0.9.9']);
  });

  it('compares numbers of any size and leading zeros by value', () => {
    const a = parseVersion('2024.01.05');
    const b = parseVersion('2024.1.10');
    expect(compareVersions(a, b)).toBe(-1);
    expect(compareVersions(parseVersion('99999999999999999999.1'), parseVersion('99999999999999999998.2'))).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const flavourArb = fc.record({
  prefix: fc.constantFrom('', 'v', 'version-', 'amd64-'),
  parts: fc.integer({ min: 1, max: 4 }),
  suffix: fc.constantFrom('', '-alpine', '-bookworm-slim', '-jdk17'),
  build: fc.constantFrom('', '-ls', '-r'),
});
type Flavour = { prefix: string; parts: number; suffix: string; build: string };

function versionOf(f: Flavour): fc.Arbitrary<string> {
  return fc
    .record({
      nums: fc.array(fc.oneof(fc.integer({ min: 0, max: 12 }).map(String), fc.constantFrom('007', '10', '2024', '99999999999999999999')), { minLength: f.parts, maxLength: f.parts }),
      pre: fc.option(fc.tuple(fc.constantFrom('alpha', 'beta', 'rc', 'RC', 'alpha.'), fc.option(fc.integer({ min: 0, max: 20 }))), { nil: undefined }),
      build: fc.integer({ min: 0, max: 300 }),
    })
    .map(({ nums, pre, build }) => {
      let preText = '';
      if (pre !== undefined) {
        const [word, n] = pre;
        preText = word.endsWith('.') ? `-${word}${n ?? 0}` : `-${word}${n ?? ''}`;
      }
      return `${f.prefix}${nums.join('.')}${preText}${f.suffix}${f.build === '' ? '' : `${f.build}${build}`}`;
    });
}

const sameFlavourTags = flavourArb.chain((f) => fc.array(versionOf(f), { minLength: 3, maxLength: 12 }).map((tags) => ({ f, tags })));

describe('properties', () => {
  it('never throws on any string but a VersionError, and every parse is a version of its own flavour', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 140 }), fc.stringMatching(/^[\w][\w.-]{0,40}$/), fc.string({ unit: fc.constantFrom('1', '.', '-', 'v', 'r', 'c', 'a', 'l', 's', '_', '0') })), (s) => {
        const v = parseTag(s);
        if (v !== null) {
          expect(v.core.length).toBeGreaterThanOrEqual(1);
          expect(v.core.length).toBeLessThanOrEqual(4);
          expect(compareVersionTags(v, v)).toBe(0);
          expect(isNewer(v, v, { sameFlavour: true, includePrereleases: true })).toBe(false);
        }
        try {
          parseVersion(s);
        } catch (err) {
          expect(err).toBeInstanceOf(VersionError);
        }
        expect(() => sortSemverDescending([s, '1.0', 'latest', s])).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('parses every generated tag of a flavour into that flavour', () => {
    fc.assert(
      fc.property(sameFlavourTags, ({ tags }) => {
        const flavours = new Set(tags.map((t) => parseTag(t)?.flavour));
        expect(flavours.size).toBe(1);
        expect(flavours.has(undefined)).toBe(false);
      }),
    );
  });

  it('orders tags of one flavour by a consistent total order', () => {
    fc.assert(
      fc.property(sameFlavourTags, ({ tags }) => {
        const vs = tags.map((t) => parseTag(t) as TagVersion);
        for (const a of vs) {
          for (const b of vs) {
            const ab = compareVersionTags(a, b);
            expect(ab).toBe(-compareVersionTags(b, a) || 0); // antisymmetric
            expect(ab === 0).toBe(a.tag === b.tag); // total: only equal tags tie
            for (const c of vs) {
              if (ab <= 0 && compareVersionTags(b, c) <= 0) expect(compareVersionTags(a, c)).toBeLessThanOrEqual(0); // transitive
            }
          }
        }
        // The same order whatever order the registry listed them in.
        const sorted = sortSemverDescending(tags);
        expect(sortSemverDescending([...tags].reverse())).toEqual(sorted);
        // "newer" agrees with the order: b is newer than a exactly when a sorts below b as a version.
        for (const a of vs) for (const b of vs) expect(isNewer(b, a, { sameFlavour: true, includePrereleases: true })).toBe(compareVersions(b, a) > 0);
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with semver.compare on tags that are valid semver', () => {
    const semverTag = fc
      .tuple(fc.nat(30), fc.nat(30), fc.nat(30), fc.option(fc.tuple(fc.constantFrom('alpha', 'beta', 'rc'), fc.option(fc.nat(20), { nil: undefined })), { nil: undefined }), fc.boolean())
      .map(([a, b, c, pre, v]) => `${v ? 'v' : ''}${a}.${b}.${c}${pre === undefined ? '' : `-${pre[0]}${pre[1] === undefined ? '' : `.${pre[1]}`}`}`);
    fc.assert(
      fc.property(semverTag, semverTag, (x, y) => {
        const px = parseTag(x)!;
        const py = parseTag(y)!;
        expect(semver.valid(x)).not.toBeNull();
        expect(compareVersions(px, py)).toBe(semver.compare(x, y));
      }),
      { numRuns: 2000 },
    );
  });
});
