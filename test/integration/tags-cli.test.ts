/**
 * `herald tags` through the real CLI: a tag list on disk (no registry), and REF against a real
 * docker-registry, with and without a config entry for it. Exit codes and one-line errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { buildImage } from '../../fixtures/oci.js';
import { herald, registryEntry, tempDir, writeConfig } from './helpers.js';
import type { Explanation } from '../../src/tags/explain.js';

const TAGS = ['1.27.1-alpine', '1.27.2-alpine', '1.27.3-alpine', '1.28.0-alpine', '1.28.0', '1.27.3-alpine-slim', '1.29.0-rc1-alpine', 'mainline-alpine', 'latest'];

describe('herald tags --tags-file', () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'tags.txt');
  writeFileSync(file, `${TAGS.join('\n')}\n`);
  afterAll(() => tmp.cleanup());

  it('prints the JSON of the contract: current, every tag with kept/newer/reason, selected', async () => {
    const r = await herald(['tags', '--current', '1.27.2-alpine', '--tags-file', file, '--newer-only', '--sort', 'semver', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as Explanation;
    expect(e.current).toEqual({ tag: '1.27.2-alpine', version: '1.27.2', flavour: '#.#.#-alpine', prerelease: false });
    expect(e.selected).toEqual(['1.28.0-alpine', '1.27.3-alpine']);
    expect(e.tags).toHaveLength(TAGS.length);
    expect(Object.keys(e.tags[0]!).sort()).toEqual(['flavour', 'kept', 'newer', 'prerelease', 'reason', 'tag', 'version']);
    expect(e.tags.find((t) => t.tag === '1.28.0')).toMatchObject({ kept: false, newer: false, reason: 'other flavour (#.#.#, not #.#.#-alpine)' });
  });

  it('prints a table with the reasons, and the filters from flags', async () => {
    const r = await herald(['tags', '--current', '1.27.2-alpine', '--tags-file', file, '--exclude', 'slim$', '--max-tags', '2', '--sort', 'semver']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1\.27\.3-alpine-slim\s.*excluded by excludeTags \/slim\$\/$/m);
    expect(r.stdout).toMatch(/^1\.27\.3-alpine\s.*cut by maxTags \(2\)$/m);
    expect(r.stdout).toContain('2 of 9 tags kept: 1.29.0-rc1-alpine, 1.28.0');
  });

  it.each<[string[], RegExp]>([
    [['--current', '1.0', '--tags-file', 'no-such-file.txt'], /^herald: cannot read no-such-file\.txt: ENOENT\n$/],
    [['--current', '1.0', '--tags-file', '__FILE__', '--include', '('], /^herald: bad regex \/\(\/: Unterminated group\n$/],
    [['--current', 'latest', '--tags-file', '__FILE__', '--newer-only'], /^herald: --newer-only: "latest" is not a version tag/],
    [['--tags-file', '__FILE__'], /^herald: give REF, or --current TAG with --tags-file FILE\n$/],
    [['--current', '1.0', '--tags-file', '__FILE__', '--max-tags', 'x'], /^herald: --max-tags must be a whole number/],
    [['UPPER/case:1'], /^herald: .*/],
  ])('usage error %j: exit 2, one line', async (args, message) => {
    const r = await herald(['tags', ...args.map((a) => (a === '__FILE__' ? file : a))]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('herald tags REF against a real registry', () => {
  let registry: TestRegistry;
  let tmp: ReturnType<typeof tempDir>;
  let config: string;

  beforeAll(async () => {
    registry = await startRegistry();
    tmp = tempDir();
    const one = buildImage({ platform: 'linux/amd64', seed: 'tags-cli' });
    await registry.pushImage('web/nginx', TAGS[0]!, { seed: 'tags-cli' });
    for (const t of TAGS.slice(1)) await registry.putManifest('web/nginx', t, one.manifest.bytes, one.mediaType);
    config = writeConfig(tmp.dir, [
      `db: { path: ${join(tmp.dir, 'herald.db')} }`,
      'registries:',
      registryEntry('test', registry.host, registry),
      'images:',
      `  - name: ${registry.host}/web/nginx:1.27.2-alpine`,
      '    watchRepo: true',
      '    newerOnly: true',
      '    sortTags: semver',
    ].join('\n'));
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    tmp?.cleanup();
  });

  it("uses the image's config entry when REF is configured", async () => {
    const r = await herald(['tags', `${registry.host}/web/nginx:1.27.2-alpine`, '-c', config, '--json'], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as Explanation;
    expect(e.selected).toEqual(['1.28.0-alpine', '1.27.3-alpine']);
    expect(e.tags.map((t) => t.tag).sort()).toEqual([...TAGS].sort());
  });

  it('uses the flags for a REF that is not configured', async () => {
    const r = await herald(['tags', `${registry.host}/web/nginx:1.27.3-alpine`, '-c', config, '--include', '^1\\.28'], { timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('2 of 9 tags kept: 1.28.0, 1.28.0-alpine');
  });

  it('exits 1 with one line when the registry cannot list the repository', async () => {
    const r = await herald(['tags', `${registry.host}/no/such:1.0`, '-c', config], { timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^herald: .*no\/such/);
  });
});
