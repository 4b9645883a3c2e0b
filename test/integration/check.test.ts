/**
 * What herald detects, against a real docker-registry, in each auth mode, through a counting
 * proxy: new → unchanged → update, platform-aware index comparison, one HEAD per unchanged image,
 * errors that leave state alone, and a dead registry that fails only its own images.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startRegistry, type AuthMode, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { harness, registryEntry, tempDir, writeConfig, type Harness } from './helpers.js';

const modes: AuthMode[] = ['none', 'htpasswd', 'token'];

describe.each(modes)('checks against a registry with %s auth', (mode) => {
  let registry: TestRegistry;
  let proxy: CountingProxy;
  let h: Harness;
  let tmp: ReturnType<typeof tempDir>;
  let single: string, multi: string, list: string;

  beforeAll(async () => {
    registry = await startRegistry({ auth: mode });
    proxy = await startCountingProxy(registry.url);
    tmp = tempDir();
    single = `${proxy.host}/team/single:1`;
    multi = `${proxy.host}/team/multi:1`;
    list = `${proxy.host}/team/list:1`;
    await registry.pushImage('team/single', '1', { seed: 's1', labels: { 'org.opencontainers.image.source': 'https://example.com/single' } });
    await registry.pushIndex('team/multi', '1', [{ platform: 'linux/amd64', seed: 'm-amd' }, { platform: 'linux/arm64/v8', seed: 'm-arm' }], { attestation: true });
    await registry.pushIndex('team/list', '1', [{ platform: 'linux/amd64', seed: 'l-amd' }, { platform: 'linux/arm/v7', seed: 'l-arm' }], { format: 'docker' });
    const file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'herald.db')} }`,
        'watch: { workers: 4 }',
        'defaults: { platform: linux/amd64 }',
        'registries:',
        registryEntry('test', proxy.host, registry),
        'images:',
        `  - name: ${single}`,
        `  - name: ${multi}`,
        `  - name: ${list}`,
        `  - name: ${multi}`,
        '    platform: linux/arm64',
      ].join('\n'),
    );
    h = await harness(file);
  });

  afterAll(async () => {
    await h?.close();
    await proxy?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  it('sees every image as new on the first run, and stores no false update', async () => {
    const { report, events } = await h.run();
    expect(report.images.map((i) => [i.image, i.platform, i.status])).toEqual([
      [single, 'linux/amd64', 'new'],
      [multi, 'linux/amd64', 'new'],
      [list, 'linux/amd64', 'new'],
      [multi, 'linux/arm64', 'new'],
    ]);
    expect(events.map((e) => e.status)).toEqual(['new', 'new', 'new', 'new']);
    // The first check of a multi-platform image learns its platform's manifest digest.
    const multiState = h.store.state.get(multi, 'linux/amd64')!;
    expect(multiState.platformDigest).not.toBe(multiState.digest);
    expect(multiState.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(h.store.state.get(multi, 'linux/arm64')!.platformDigest).not.toBe(multiState.platformDigest);
    expect(h.store.state.get(list, 'linux/amd64')!.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
  });

  it('checks an unchanged image with exactly one HEAD and no GET', async () => {
    proxy.reset();
    h.requests.length = 0;
    const { report, events } = await h.run();
    expect(report.images.every((i) => i.status === 'unchanged')).toBe(true);
    expect(events).toEqual([]);
    expect(proxy.counts).toMatchObject({ head: 4, getManifest: 0, getBlob: 0, ping: 0, total: 4 });
    // Tokens are cached across runs of one process: none fetched on a warm run.
    expect(h.requests.filter((r) => r.kind === 'token')).toEqual([]);
  });

  it('reports an update when new content is pushed under the same tag, with created and labels', async () => {
    const before = h.store.state.get(single, 'linux/amd64')!;
    const pushed = await registry.pushImage('team/single', '1', { seed: 's2', created: '2026-11-20T10:00:00Z', labels: { version: '2' } });
    proxy.reset();
    const { report, events } = await h.run();
    expect(report.images.find((i) => i.image === single)).toMatchObject({ status: 'update', digest: pushed.digest, previousDigest: before.digest });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      status: 'update', image: single, registry: proxy.host, repository: 'team/single', tag: '1',
      digest: pushed.digest, previousDigest: before.digest, platformDigest: pushed.digest, previousPlatformDigest: before.digest,
      created: '2026-11-20T10:00:00Z', labels: { version: '2' }, platform: 'linux/amd64', error: null,
    });
    // HEAD per image, then the changed manifest and its config once each: no second HEAD.
    expect(proxy.counts).toMatchObject({ head: 4, getManifest: 1, getBlob: 1 });
    expect(h.store.events.get(events[0]!.id)).toEqual(events[0]);
  });

  it('does not report an update when an index is rebuilt with only another platform changed', async () => {
    const before = h.store.state.get(multi, 'linux/amd64')!;
    const rebuilt = await registry.pushIndex('team/multi', '1', [{ platform: 'linux/amd64', seed: 'm-amd' }, { platform: 'linux/arm64/v8', seed: 'm-arm-2' }], { attestation: true });
    expect(rebuilt.digest).not.toBe(before.digest);
    const { report, events } = await h.run();
    expect(report.images.find((i) => i.image === multi && i.platform === 'linux/amd64')?.status).toBe('unchanged');
    // The arm64 follower of the same tag does see its platform change.
    expect(events.map((e) => [e.status, e.image, e.platform])).toEqual([['update', multi, 'linux/arm64']]);
    const after = h.store.state.get(multi, 'linux/amd64')!;
    expect(after.digest).toBe(rebuilt.digest);
    expect(after.platformDigest).toBe(before.platformDigest);
    // The new index digest was stored: the next run is one HEAD per image again.
    proxy.reset();
    await h.run();
    expect(proxy.counts).toMatchObject({ head: 4, getManifest: 0, getBlob: 0 });
  });

  it("reports an update when the selected platform's manifest changes, from a Docker manifest list too", async () => {
    const pushed = await registry.pushIndex('team/list', '1', [{ platform: 'linux/amd64', seed: 'l-amd-2', created: '2026-11-21T00:00:00Z' }, { platform: 'linux/arm/v7', seed: 'l-arm' }], { format: 'docker' });
    const { events } = await h.run();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      status: 'update', image: list, digest: pushed.digest, platformDigest: pushed.platforms['linux/amd64']!.digest,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', created: '2026-11-21T00:00:00Z',
    });
  });

  it('leaves state alone when a check fails, raises one error event, and recovers without a false update', async () => {
    const before = h.store.state.get(single, 'linux/amd64')!;
    await registry.deleteManifest('team/single', before.digest!);
    const first = await h.run();
    const failed = first.report.images.find((i) => i.image === single)!;
    expect(failed.status).toBe('error');
    expect(failed.error).toMatch(/team\/single:1/);
    expect(failed.error).not.toMatch(/\n/);
    expect(first.events.map((e) => [e.status, e.image])).toEqual([['error', single]]);
    expect(h.store.state.get(single, 'linux/amd64')).toMatchObject({ digest: before.digest, platformDigest: before.platformDigest, error: failed.error });

    const second = await h.run();
    expect(second.report.images.find((i) => i.image === single)!.status).toBe('error');
    expect(second.events).toEqual([]);

    // The same content comes back: unchanged, not an update, and the error is cleared.
    await registry.pushImage('team/single', '1', { seed: 's2', created: '2026-11-20T10:00:00Z', labels: { version: '2' } });
    const third = await h.run();
    expect(third.report.images.find((i) => i.image === single)!.status).toBe('unchanged');
    expect(third.events).toEqual([]);
    expect(h.store.state.get(single, 'linux/amd64')).toMatchObject({ digest: before.digest, error: null, errorSince: null });
  });
});

describe('a registry that is down', () => {
  it('fails only its own images', async () => {
    const a = await startRegistry();
    const b = await startRegistry();
    const pa = await startCountingProxy(a.url);
    const pb = await startCountingProxy(b.url);
    const tmp = tempDir();
    try {
      await a.pushImage('app/one', '1');
      await a.pushImage('app/two', '1');
      await b.pushImage('app/three', '1');
      const file = writeConfig(
        tmp.dir,
        [
          `db: { path: ${join(tmp.dir, 'h.db')} }`,
          'registries:',
          registryEntry('a', pa.host, a),
          registryEntry('b', pb.host, b),
          'images:',
          `  - name: ${pa.host}/app/one:1`,
          `  - name: ${pb.host}/app/three:1`,
          `  - name: ${pa.host}/app/two:1`,
        ].join('\n'),
      );
      const h = await harness(file);
      try {
        await h.run();
        pb.setDown(true);
        const started = Date.now();
        const { report } = await h.run();
        expect(Date.now() - started).toBeLessThan(5000);
        expect(report.images.map((i) => i.status)).toEqual(['unchanged', 'error', 'unchanged']);
        expect(report.images[1]!.error).toContain(pb.host);
        expect(h.store.state.get(`${pb.host}/app/three:1`, report.images[1]!.platform)?.digest).toMatch(/^sha256:/);
      } finally {
        await h.close();
      }
    } finally {
      await pa.stop();
      await pb.stop();
      await a.stop();
      await b.stop();
      tmp.cleanup();
    }
  });
});
