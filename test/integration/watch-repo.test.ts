/**
 * watchRepo end to end, as a user sees it: a real docker-registry (token auth) behind the counting
 * proxy, `herald check --json` run as a process, and a webhook sink that receives what would reach
 * people. Repository web/nginx holds versions, flavours, pre-releases, a cosign signature and
 * `latest`; big/app holds 300 versions (one manifest under many tags) and `latest`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { buildImage } from '../../fixtures/oci.js';
import { harness, herald, registryEntry, tempDir, writeConfig, type CliResult } from './helpers.js';
import type { RunReport } from '../../src/watch/report.js';
import type { HeraldEvent } from '../../src/model/event.js';

const NGINX_TAGS = [
  '1.26.2-alpine', '1.27.1-alpine', '1.27.2-alpine', '1.27.3-alpine', '1.28.0-alpine', // the flavour followed
  '1.27.2', '1.28.0', '1.27-alpine', '1.28-alpine', '1.27.3-alpine-slim', '1.27.3-alpine3.20', // other flavours
  '1.29.0-rc1-alpine', '1.29.0-beta.2-alpine', // pre-releases
  'mainline-alpine', 'latest',
];
const BIG_TAGS = Array.from({ length: 300 }, (_, i) => `1.0.${i}`);
const platform = 'linux/amd64';

/** `herald check --json`: the run's report and what the check's delivery pass did. */
type CheckJson = RunReport & { deliveries: { sent: number; pending: number; failed: number } };

function report(result: CliResult): CheckJson {
  expect(result.stderr).not.toMatch(/\n\s+at /); // never a stack trace
  return JSON.parse(result.stdout) as CheckJson;
}

function deliveredEvents(sink: HttpSink): HeraldEvent[] {
  return sink.requests.flatMap((r) => (JSON.parse(r.body.toString('utf8')) as { events: HeraldEvent[] }).events);
}

function logLines(stderr: string): Array<{ level: number; msg: string; image?: string; tag?: string }> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string });
}

describe('watchRepo against a real registry', () => {
  let registry: TestRegistry;
  let proxy: CountingProxy;
  let sink: HttpSink;
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let nginx: (tag: string) => string;
  let big: (tag: string) => string;
  const check = () => herald(['check', '-c', file, '--json'], { timeoutMs: 60_000 });

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    proxy = await startCountingProxy(registry.url);
    sink = await startHttpSink();
    tmp = tempDir();
    nginx = (tag) => `${proxy.host}/web/nginx:${tag}`;
    big = (tag) => `${proxy.host}/big/app:${tag}`;

    // Every nginx tag its own content (so deleting one deletes only it), plus a cosign signature.
    const pushed = await Promise.all(NGINX_TAGS.map((t) => registry.pushImage('web/nginx', t, { seed: `nginx-${t}` })));
    const signed = pushed[NGINX_TAGS.indexOf('1.28.0-alpine')]!;
    const signature = buildImage({ platform, seed: 'cosign-signature' });
    await registry.pushImage('web/nginx', 'tmp-signature', { seed: 'cosign-signature' });
    await registry.putManifest('web/nginx', `sha256-${signed.digest.slice(7)}.sig`, signature.manifest.bytes, signature.mediaType);

    // 300 tags of one manifest: blobs once, then one PUT per tag.
    const one = buildImage({ platform, seed: 'big' });
    await registry.pushImage('big/app', 'latest', { seed: 'big' });
    await registry.pushImage('big/app', 'tmp-signature', { seed: 'cosign-signature' });
    for (let i = 0; i < BIG_TAGS.length; i += 25) {
      await Promise.all(BIG_TAGS.slice(i, i + 25).map((t) => registry.putManifest('big/app', t, one.manifest.bytes, one.mediaType)));
    }
    // Signature and attestation tags: big/app has no filters, so only the artifact rule keeps them out.
    for (const suffix of ['sig', 'att']) await registry.putManifest('big/app', `sha256-${one.manifest.digest.slice(7)}.${suffix}`, signature.manifest.bytes, signature.mediaType);

    file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'herald.db')} }`,
        'watch: { workers: 8 }',
        `defaults: { platform: ${platform} }`,
        'registries:',
        registryEntry('test', proxy.host, registry),
        'notifiers:',
        '  - name: hook',
        '    type: webhook',
        `    url: ${sink.url}/hook`,
        'images:',
        `  - name: ${nginx('1.27.2-alpine')}`,
        '    watchRepo: true',
        '    newerOnly: true',
        '    sortTags: semver',
        `  - name: ${big('latest')}`,
        '    watchRepo: true',
        '    excludeTags: ["-tmp", "^tmp-"]',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await sink?.close();
    await proxy?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  it('first check: exactly the newer same-flavour tags, every big/app tag, nothing sent; one listing + one HEAD per tag', async () => {
    proxy.reset();
    const result = await check();
    expect(result.code).toBe(0);
    const r = report(result);
    const lines = r.images.map((i) => [i.image, i.status]);
    // The pinned image itself, then the newer tags of its flavour, newest first.
    expect(lines.slice(0, 3)).toEqual([
      [nginx('1.27.2-alpine'), 'new'],
      [nginx('1.28.0-alpine'), 'new'],
      [nginx('1.27.3-alpine'), 'new'],
    ]);
    expect(lines[3]).toEqual([big('latest'), 'new']);
    expect(r.images.slice(4).map((i) => i.image).sort()).toEqual(BIG_TAGS.map(big).sort());
    expect(r.images.every((i) => i.platform === platform && i.error === null)).toBe(true);
    expect(r.images).toHaveLength(3 + 1 + 300);
    expect(r.events).toBe(304);
    expect(r.deliveries).toEqual({ sent: 0, pending: 0, failed: 0 });
    expect(sink.requests).toEqual([]);

    // One listing per repository, one HEAD per checked tag, no GET for single-platform images.
    expect(proxy.counts).toMatchObject({ tags: 2, head: 304, getManifest: 0, getBlob: 0, ping: 1 });
    // One token per repository serves its listing and its HEADs.
    expect(registry.tokenServer!.requests.flatMap((t) => t.scope).sort()).toEqual(['repository:big/app:pull', 'repository:web/nginx:pull']);
    expect(registry.tokenServer!.requests.length).toBeLessThanOrEqual(2);
    console.log(`watchRepo first check, 2 repositories, 304 tags: ${JSON.stringify({ ...proxy.counts, tokenRequests: registry.tokenServer!.requests.length })}`);
  }, 60_000);

  it('second check: all unchanged, for the same one listing + one HEAD per tag', async () => {
    proxy.reset();
    const result = await check();
    expect(result.code).toBe(0);
    const r = report(result);
    expect(r.images.filter((i) => i.status !== 'unchanged')).toEqual([]);
    expect(r.events).toBe(0);
    expect(proxy.counts).toMatchObject({ tags: 2, head: 304, getManifest: 0, getBlob: 0 });
    expect(sink.requests).toEqual([]);
  }, 60_000);

  it('a newer same-flavour tag pushed later is a notified `new` event carrying currentTag; other flavours and pre-releases are not watched', async () => {
    const pushed = await registry.pushImage('web/nginx', '1.28.1-alpine', { seed: 'nginx-1.28.1-alpine', created: '2026-11-25T08:00:00Z' });
    await registry.pushImage('web/nginx', '1.28.1', { seed: 'nginx-1.28.1' });
    await registry.pushImage('web/nginx', '1.30.0-rc1-alpine', { seed: 'nginx-1.30.0-rc1-alpine' });
    await registry.pushImage('big/app', '1.0.300-tmp', { seed: 'big-tmp' }); // excluded by excludeTags
    proxy.reset();
    const result = await check();
    expect(result.code).toBe(0);
    const r = report(result);
    expect(r.images.filter((i) => i.status !== 'unchanged').map((i) => [i.image, i.status])).toEqual([[nginx('1.28.1-alpine'), 'new']]);
    expect(r.images.map((i) => i.image)).not.toContain(nginx('1.28.1'));
    expect(r.images.map((i) => i.image)).not.toContain(big('1.0.300-tmp'));
    expect(r.deliveries).toEqual({ sent: 1, pending: 0, failed: 0 });

    const events = deliveredEvents(sink);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      status: 'new',
      image: nginx('1.28.1-alpine'),
      repository: 'web/nginx',
      tag: '1.28.1-alpine',
      currentTag: '1.27.2-alpine',
      digest: pushed.digest,
      created: '2026-11-25T08:00:00Z', // notified, so its GETs were worth it
      platform,
    });
    // The notified tag's manifest and config were fetched; nothing else was.
    expect(proxy.counts).toMatchObject({ tags: 2, head: 305, getManifest: 1, getBlob: 1 });
  }, 60_000);

  it('a kept tag whose content changes is an `update`', async () => {
    sink.requests.length = 0;
    const pushed = await registry.pushImage('web/nginx', '1.28.0-alpine', { seed: 'nginx-1.28.0-alpine-rebuilt' });
    const result = await check();
    const r = report(result);
    expect(r.images.filter((i) => i.status !== 'unchanged').map((i) => [i.image, i.status, i.digest])).toEqual([[nginx('1.28.0-alpine'), 'update', pushed.digest]]);
    expect(deliveredEvents(sink).map((e) => [e.status, e.tag, e.currentTag])).toEqual([['update', '1.28.0-alpine', '1.27.2-alpine']]);
  }, 60_000);

  it('a deleted tag is dropped from the state, with an info line naming image and tag', async () => {
    sink.requests.length = 0;
    const gone = nginx('1.27.3-alpine');
    const listed = JSON.parse((await herald(['images', 'list', '--json', '-c', file])).stdout) as Array<{ image: string; digest: string }>;
    const digest = listed.find((s) => s.image === gone)!.digest;
    await registry.deleteManifest('web/nginx', digest);
    const result = await check();
    expect(result.code).toBe(0);
    const r = report(result);
    expect(r.images.map((i) => i.image)).not.toContain(gone);
    expect(r.events).toBe(0);
    const drops = logLines(result.stderr).filter((l) => /^dropped /.test(l.msg));
    expect(drops).toEqual([expect.objectContaining({ level: 30, image: gone, tag: '1.27.3-alpine', msg: `dropped ${gone} (${platform}): tag 1.27.3-alpine is gone from the repository` })]);
    const after = JSON.parse((await herald(['images', 'list', '--json', '-c', file])).stdout) as Array<{ image: string }>;
    expect(after.map((s) => s.image)).not.toContain(gone);
    expect(sink.requests).toEqual([]);
  }, 60_000);

  it('a failed listing is an error of that image only, in one line, and changes nothing else', async () => {
    sink.requests.length = 0;
    const stateBefore = (await herald(['images', 'list', '--json', '-c', file])).stdout;
    proxy.setResponseHook((req, status, headers) => {
      if (status === 200 && req.path.startsWith('/v2/web/nginx/tags/list')) headers.link = '<https://elsewhere.example/v2/web/nginx/tags/list?last=x>; rel="next"';
    });
    try {
      const result = await check();
      expect(result.code).toBe(1);
      const r = report(result);
      const nginxLines = r.images.filter((i) => i.image.includes('/web/nginx:'));
      expect(nginxLines).toEqual([
        expect.objectContaining({
          image: nginx('1.27.2-alpine'),
          status: 'error',
          error: `${nginx('1.27.2-alpine')}: cannot list the repository's tags: ${proxy.host}/web/nginx: the tag list's next-page link points to another origin (https://elsewhere.example); refusing to follow it`,
        }),
      ]);
      expect(r.images.filter((i) => i.image.includes('/big/app:')).every((i) => i.status === 'unchanged')).toBe(true);
      const warnings = logLines(result.stderr).filter((l) => l.level >= 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.msg).toContain(nginx('1.27.2-alpine'));
      // The nginx tags' states are as they were (big/app's lastChecked moved on; nginx's did not).
      const before = (JSON.parse(stateBefore) as Array<{ image: string; lastChecked: string }>).filter((s) => s.image.includes('/web/nginx:') && s.image !== nginx('1.27.2-alpine'));
      const after = (JSON.parse((await herald(['images', 'list', '--json', '-c', file])).stdout) as Array<{ image: string; lastChecked: string }>).filter(
        (s) => s.image.includes('/web/nginx:') && s.image !== nginx('1.27.2-alpine'),
      );
      expect(after).toEqual(before);
    } finally {
      proxy.setResponseHook(undefined);
    }
    // Recovered: no false news.
    const result = await check();
    expect(result.code).toBe(0);
    expect(report(result).images.every((i) => i.status === 'unchanged')).toBe(true);
    expect(sink.requests).toEqual([]);
  }, 60_000);

  // check --image with a tag found through watchRepo: the repository is listed, that tag alone is
  // checked, and every other tag is left for the next full check.
  const checkOne = (image: string) => herald(['check', '-c', file, '--json', '--image', image], { timeoutMs: 60_000 });
  const stateList = async () => JSON.parse((await herald(['images', 'list', '--json', '-c', file])).stdout) as Array<{ image: string; digest: string; lastChecked: string }>;

  it('check --image with a tag found through watchRepo checks and reports that tag only; the others wait for the next full check', async () => {
    const target = nginx('1.28.0-alpine');
    const appeared = nginx('1.28.2-alpine');
    const deleted = nginx('1.28.1-alpine');
    const rebuilt = await registry.pushImage('web/nginx', '1.28.0-alpine', { seed: 'nginx-1.28.0-alpine-rebuilt-twice' });
    await registry.pushImage('web/nginx', '1.28.2-alpine', { seed: 'nginx-1.28.2-alpine' });
    const before = await stateList();
    await registry.deleteManifest('web/nginx', before.find((s) => s.image === deleted)!.digest);
    sink.requests.length = 0;
    proxy.reset();

    const result = await checkOne(target);
    expect(result.code).toBe(0);
    const r = report(result);
    expect(r.images).toEqual([{ image: target, platform, status: 'update', digest: rebuilt.digest, previousDigest: expect.any(String), error: null }]);
    expect(r.events).toBe(1);
    expect(r.deliveries).toEqual({ sent: 1, pending: 0, failed: 0 });
    expect(deliveredEvents(sink).map((e) => [e.status, e.image, e.digest, e.currentTag])).toEqual([['update', target, rebuilt.digest, '1.27.2-alpine']]);
    // Only nginx was listed, and only the target's manifest asked for.
    expect(proxy.counts).toMatchObject({ tags: 1, head: 1 });
    // Every other state is as it was: the deleted tag is not dropped, the appeared tag not stored.
    const after = await stateList();
    expect(after.filter((s) => s.image !== target)).toEqual(before.filter((s) => s.image !== target));
    expect(after.map((s) => s.image)).not.toContain(appeared);
    expect(logLines(result.stderr).filter((l) => /^dropped /.test(l.msg))).toEqual([]);

    // The next full check: the appeared tag is still news (notified), the deleted one is dropped now.
    sink.requests.length = 0;
    const full = await check();
    expect(full.code).toBe(0);
    const f = report(full);
    expect(f.images.filter((i) => i.status !== 'unchanged').map((i) => [i.image, i.status])).toEqual([[appeared, 'new']]);
    expect(f.images.find((i) => i.image === target)).toMatchObject({ status: 'unchanged', digest: rebuilt.digest });
    expect(deliveredEvents(sink).map((e) => [e.status, e.image, e.currentTag])).toEqual([['new', appeared, '1.27.2-alpine']]);
    expect(logLines(full.stderr).filter((l) => /^dropped /.test(l.msg)).map((l) => l.image)).toEqual([deleted]);
  }, 60_000);

  it('check --image with the watchRepo image itself still checks all of its tags', async () => {
    const result = await checkOne(nginx('1.27.2-alpine'));
    expect(result.code).toBe(0);
    expect(report(result).images.map((i) => [i.image, i.status])).toEqual([
      [nginx('1.27.2-alpine'), 'unchanged'],
      [nginx('1.28.2-alpine'), 'unchanged'],
      [nginx('1.28.0-alpine'), 'unchanged'],
    ]);
  }, 60_000);

  it('check --image with a tag the watchRepo options leave out, or with an unknown image, exits 2 and changes nothing', async () => {
    sink.requests.length = 0;
    const before = await stateList();
    const notWatched = [
      [nginx('1.28.0'), 'web/nginx'], // another flavour
      [nginx('1.26.2-alpine'), 'web/nginx'], // older than the pinned tag (newerOnly)
      [nginx('9.9.9-alpine'), 'web/nginx'], // not in the repository
      [big('1.0.300-tmp'), 'big/app'], // excludeTags
    ] as const;
    for (const [image, repository] of notWatched) {
      const result = await checkOne(image);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`herald: image ${image} is not watched: ${proxy.host}/${repository} is watched with watchRepo, and ${image} is not one of its selected tags (${file})\n`);
    }
    for (const image of [`${proxy.host}/web/other:1.0`, `${proxy.host}/web/nginx@sha256:${'0'.repeat(64)}`]) {
      const result = await checkOne(image);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`herald: image ${image} is not in the config (${file})\n`);
    }
    expect(await stateList()).toEqual(before);
    expect(sink.requests).toEqual([]);
  }, 60_000);

  it('check --image with a tag found through watchRepo fails in one line when the repository cannot be listed', async () => {
    const before = await stateList();
    proxy.setResponseHook((req, status, headers) => {
      if (status === 200 && req.path.startsWith('/v2/web/nginx/tags/list')) headers.link = '<https://elsewhere.example/v2/web/nginx/tags/list?last=x>; rel="next"';
    });
    try {
      const result = await checkOne(nginx('1.28.0-alpine'));
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`herald: cannot check ${nginx('1.28.0-alpine')}: ${nginx('1.27.2-alpine')}: cannot list the repository's tags: `);
    } finally {
      proxy.setResponseHook(undefined);
    }
    expect(await stateList()).toEqual(before);
  }, 60_000);
});

describe('watchRepo options with runOnce', () => {
  let registry: TestRegistry;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    registry = await startRegistry();
    tmp = tempDir();
    const one = buildImage({ platform, seed: 'many' });
    await registry.pushImage('many/app', 'latest', { seed: 'many' });
    await Promise.all(['0.9.0', '1.0.0', '1.0.1', '1.1.0', '1.2.0', '1.10.0', '2.0.0-rc1', 'edge'].map((t) => registry.putManifest('many/app', t, one.manifest.bytes, one.mediaType)));
  });
  afterAll(async () => {
    await registry?.stop();
    tmp?.cleanup();
  });

  const config = (name: string, image: string[], extra: string[] = []): string =>
    writeConfig(
      tmp.dir,
      [`db: { path: ${join(tmp.dir, `${name}.db`)} }`, `defaults: { platform: ${platform} }`, ...extra, 'registries:', registryEntry('r', registry.host, registry), 'images:', ...image, 'notifiers:', '  - { name: hook, type: webhook, url: "http://127.0.0.1:9/" }'].join('\n'),
      `${name}.yml`,
    );

  it('maxTags applies after sorting, so semver keeps the newest', async () => {
    const h = await harness(config('max', [`  - name: ${registry.host}/many/app:latest`, '    watchRepo: true', '    sortTags: semver', '    maxTags: 3']));
    try {
      const { report: r } = await h.run();
      expect(r.images.map((i) => i.image.split(':').pop())).toEqual(['latest', '2.0.0-rc1', '1.10.0', '1.2.0']);
    } finally {
      await h.close();
    }
  });

  it('with firstCheckNotify, the first check notifies every kept tag; and a tag that leaves the maxTags window is dropped', async () => {
    const file = config('fcn', [`  - name: ${registry.host}/many/app:1.0.0`, '    watchRepo: true', '    newerOnly: true', '    sortTags: semver', '    maxTags: 2'], ['watch: { firstCheckNotify: true }']);
    const h = await harness(file);
    try {
      const first = await h.run();
      expect(first.report.images.map((i) => [i.image.split(':').pop(), i.status])).toEqual([['1.0.0', 'new'], ['1.10.0', 'new'], ['1.2.0', 'new']]);
      expect(h.store.deliveries.counts().pending).toBe(3);
      expect(first.events.filter((e) => e.tag !== '1.0.0').every((e) => e.currentTag === '1.0.0')).toBe(true);
      expect(first.events.find((e) => e.tag === '1.0.0')?.currentTag).toBeUndefined();

      const one = buildImage({ platform, seed: 'many' });
      await registry.putManifest('many/app', '1.11.0', one.manifest.bytes, one.mediaType);
      const second = await h.run();
      expect(second.report.images.map((i) => [i.image.split(':').pop(), i.status])).toEqual([['1.0.0', 'unchanged'], ['1.11.0', 'new'], ['1.10.0', 'unchanged']]);
      expect(h.store.state.get(`${registry.host}/many/app:1.2.0`, platform)).toBeUndefined();
      expect(h.store.deliveries.counts().pending).toBe(4);
    } finally {
      await h.close();
    }
  });

  it('images prune keeps the tags a watchRepo image follows', async () => {
    const file = config('prune', [`  - name: ${registry.host}/many/app:1.1.0`, '    watchRepo: true', '    newerOnly: true']);
    const h = await harness(file);
    await h.run();
    await h.close();
    const result = await herald(['images', 'prune', '-c', file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('pruned 0 image states');
  });
});
