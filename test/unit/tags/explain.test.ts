/** `herald tags`'s explanation (src/tags/explain.ts) and the counters the issue named (src/tags/counters.ts). */
import { describe, expect, it } from 'vitest';
import { parseReference } from '../../../src/model/reference.js';
import { explainTags } from '../../../src/tags/explain.js';
import { selectTags, type TagOptions } from '../../../src/tags/select.js';
import { isNewer, parseTag, parseVersion } from '../../../src/tags/versions.js';

function options(name: string, extra: Partial<TagOptions> = {}): TagOptions {
  return { ref: parseReference(name), includeTags: [], excludeTags: [], sortTags: 'semver', maxTags: 0, newerOnly: false, sameFlavour: true, includePrereleases: false, ...extra };
}
const sig = `sha256-${'c'.repeat(64)}.sig`;
const nginx = ['1.27.1-alpine', '1.27.2-alpine', '1.27.3-alpine', '1.28.0-alpine', '1.28.0', '1.27.3-alpine-slim', '1.29.0-rc1-alpine', 'mainline-alpine', sig, '1.27.3-alpine', '1.26.0-alpine'];

describe('explainTags', () => {
  it('says for every tag why it is kept or not, and agrees with selectTags', () => {
    const opts = options('nginx:1.27.2-alpine', { newerOnly: true, excludeTags: ['^1\\.26'], maxTags: 1 });
    const e = explainTags(nginx, opts);
    const why = Object.fromEntries(e.tags.map((t) => [t.tag, t.reason]));
    expect(why).toEqual({
      '1.29.0-rc1-alpine': 'pre-release (includePrereleases is off)',
      '1.28.0-alpine': 'kept',
      '1.28.0': 'other flavour (#.#.#, not #.#.#-alpine)',
      '1.27.3-alpine': 'cut by maxTags (1)',
      '1.27.3-alpine-slim': 'other flavour (#.#.#-alpine-slim, not #.#.#-alpine)',
      '1.27.2-alpine': "the image's own tag (checked on its own)",
      '1.27.1-alpine': 'older than 1.27.2-alpine',
      '1.26.0-alpine': 'excluded by excludeTags /^1\\.26/',
      'mainline-alpine': 'not a version',
      [sig]: 'artifact tag (signature, attestation or SBOM)',
    });
    expect(e.selected).toEqual(selectTags(nginx, opts).kept);
    expect(e.tags.filter((t) => t.kept).map((t) => t.tag)).toEqual(e.selected);
    expect(e.current).toEqual({ tag: '1.27.2-alpine', version: '1.27.2', flavour: '#.#.#-alpine', prerelease: false });
    expect(e.tags.find((t) => t.tag === '1.29.0-rc1-alpine')).toMatchObject({ version: '1.29.0-rc.1', prerelease: true, newer: false, kept: false });
    expect(e.tags.find((t) => t.tag === '1.27.3-alpine')).toMatchObject({ newer: true, kept: false });
  });

  it('without newerOnly keeps other flavours but still says which are newer; includeTags misses are named', () => {
    const e = explainTags(nginx, options('nginx:1.27.2-alpine', { includeTags: ['alpine$'] }));
    const byTag = new Map(e.tags.map((t) => [t.tag, t]));
    expect(byTag.get('1.28.0')).toMatchObject({ kept: false, reason: 'not matched by includeTags', newer: false });
    expect(byTag.get('mainline-alpine')).toMatchObject({ kept: true, newer: false, version: null });
    expect(byTag.get('1.28.0-alpine')).toMatchObject({ kept: true, newer: true });
  });

  it('has no current version for a digest or a non-version tag', () => {
    expect(explainTags(['1.0.0'], options('nginx:latest')).tags[0]!.newer).toBeNull();
    expect(explainTags(['1.0.0'], options('nginx:latest')).current).toMatchObject({ tag: 'latest', version: null });
  });
});

describe('counters after the version are not flavour (issue 13)', () => {
  it.each<[string, string]>([
    ['3.10-master-777', '3.10-master-999'],
    ['11-jdk-master-111', '11-jdk-master-222'],
    ['21-ea-32', '22-ea-7'],
    ['v3.9.0-177-ged5bcde', 'v3.10.0-169-gfe040d3'],
    ['20231101-230548-g159857a0b', '20231203-230414-gd53f37589'],
    ['7.1-0.1', '7.2-0.3'],
    ['1803-KB4487017', '1903-KB4505057'],
    ['3.3-apache-202209221209', '4.11-apache-202502070602'],
    ['8.7-923.1669829893', '8.7-1049'],
    ['4.8.1-20251014-windowsservercore-ltsc2022', '4.8.1-20251111-windowsservercore-ltsc2022'],
    ['1.0.0', '1.0.0.post1'],
    ['1.0.0.dev0', '1.0.0'],
    ['1.0-unstable', '1.0'],
  ])('%s → %s is newer', (current, candidate) => {
    expect(isNewer(parseTag(candidate), parseVersion(current), { sameFlavour: true, includePrereleases: false })).toBe(true);
    expect(isNewer(parseTag(current), parseVersion(candidate), { sameFlavour: true, includePrereleases: true })).toBe(false);
  });

  it('keeps words with digits in the flavour, and what is not a counter', () => {
    expect(parseTag('1.27.2-alpine3.20')?.flavour).toBe('#.#.#-alpine3.20');
    expect(parseTag('17-jdk17')?.flavour).toBe('#-jdk17');
    expect(parseTag('4.8.1-20251111-windowsservercore-ltsc2022')?.flavour).toBe('#.#.#-#-windowsservercore-ltsc2022');
    expect(parseTag('7.2-9658143')?.flavour).toBe('#.#-9658143'); // a short git hash of digits only
    expect(parseTag('17.2.0-debian-12-r3')?.flavour).toBe('#.#.#-debian-12-r#');
    expect(parseTag('1.0.0.post1')).toMatchObject({ pre: null, post: '1', flavour: '#.#.#' });
    expect(parseTag('1.0.0.dev0')).toMatchObject({ pre: 'dev.0', flavour: '#.#.#' });
    expect(parseTag('1.0-unstable')?.pre).toBe('unstable');
  });
});
