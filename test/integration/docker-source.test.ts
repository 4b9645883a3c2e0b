/**
 * The Docker source against a real engine (Podman's Docker-compatible API service) running real
 * containers of images pulled from a real docker-registry. Requests to the engine go through a
 * counting proxy on a unix socket, so the per-run cost is measured, not assumed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushBusyboxImage } from '../../fixtures/busybox-image.js';
import { startEngineProxy, type EngineProxy } from '../../fixtures/engine.js';
import { podmanUnavailable, startPodman, type Podman } from '../../fixtures/podman.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { dockerSchema, dockerSource } from '../../src/sources/docker.js';
import { hostPlatform } from '../../src/sources/image-options.js';
import { SourceError, type ImageSource, type ListContext } from '../../src/sources/source.js';
import { silentLogger } from '../../src/util/log.js';

const unavailable = podmanUnavailable();
const ctx: ListContext = { defaults: {}, notifierNames: [] };

function source(endpoint: string, extra: Record<string, unknown> = {}): ImageSource {
  const config = dockerSchema.parse({ name: 'local', type: 'docker', endpoint, timeout: '5s', ...extra });
  return dockerSource.create(config, { logger: silentLogger, dir: process.cwd() });
}

describe.skipIf(unavailable !== undefined)(`the docker source against podman${unavailable !== undefined ? ` (skipped: ${unavailable})` : ''}`, () => {
  let registry: TestRegistry;
  let podman: Podman;
  let proxy: EngineProxy;
  let local: ImageSource;
  let app: string;
  let firstDigest: string;
  const ids: Record<string, string> = {};
  const opened: ImageSource[] = [];
  const open = (endpoint: string, extra?: Record<string, unknown>): ImageSource => {
    const s = source(endpoint, extra);
    opened.push(s);
    return s;
  };

  beforeAll(async () => {
    [registry, podman] = await Promise.all([startRegistry(), startPodman()]);
    proxy = await startEngineProxy(podman.socketPath);
    app = `${registry.host}/team/app:1`;
    firstDigest = (await pushBusyboxImage(registry, 'team/app', '1', { seed: 'first' })).digest;
    await podman.pull(app);
    for (const name of ['web-1', 'web-2']) ids[name] = await podman.run(name, app, { 'herald.enable': 'true' });
    ids.plain = await podman.run('plain', app);
    local = open(proxy.endpoint);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await proxy?.stop();
    await podman?.close();
    await registry?.stop();
  }, 60_000);

  it('lists the labelled containers under one image, with the digest they run, for 1 listing and 1 inspect', async () => {
    proxy.reset();
    const listing = await local.list(ctx);
    expect(listing.unwatched).toEqual([]);
    expect(listing.images).toHaveLength(1);
    const [image] = listing.images;
    expect(image!.ref.name).toBe(app);
    expect(image!.platform).toBe(hostPlatform());
    expect(image!.sources).toEqual(['local']);
    expect(image!.problem).toBeUndefined();
    expect(image!.containers!.map((c) => [c.name, c.id, c.runningDigest]).sort()).toEqual([
      ['web-1', ids['web-1'], firstDigest],
      ['web-2', ids['web-2'], firstDigest],
    ]);
    expect(proxy.counts).toMatchObject({ list: 1, imageInspect: 1, containerInspect: 0, total: 2 });
  });

  it('makes 1 listing and 0 inspects on a warm run', async () => {
    proxy.reset();
    const listing = await local.list(ctx);
    expect(listing.images[0]!.containers).toHaveLength(2);
    expect(proxy.counts).toMatchObject({ list: 1, imageInspect: 0, containerInspect: 0, total: 1 });
    expect(proxy.log).toEqual(['GET /containers/json']);
  });

  it('lists unlabelled containers too with watchByDefault, but not herald.enable=false', async () => {
    ids.off = await podman.run('off', app, { 'herald.enable': 'false' });
    const listing = await open(proxy.endpoint, { watchByDefault: true }).list(ctx);
    expect(listing.images[0]!.containers!.map((c) => c.name).sort()).toEqual(['plain', 'web-1', 'web-2']);
    await podman.remove('off');
  });

  it('still reports the old digest after the tag moves in the registry: the containers were not recreated', async () => {
    const second = await pushBusyboxImage(registry, 'team/app', '1', { seed: 'second' });
    expect(second.digest).not.toBe(firstDigest);
    const listing = await local.list(ctx);
    expect(listing.images[0]!.containers!.map((c) => c.runningDigest)).toEqual([firstDigest, firstDigest]);
  });

  it('lists a stopped container only with watchStopped', async () => {
    await podman.create('stopped', app, { 'herald.enable': 'true' });
    const running = await local.list(ctx);
    expect(running.images[0]!.containers!.map((c) => c.name)).not.toContain('stopped');
    const all = await open(proxy.endpoint, { watchStopped: true }).list(ctx);
    expect(all.images[0]!.containers!.map((c) => c.name).sort()).toEqual(['stopped', 'web-1', 'web-2']);
    await podman.remove('stopped');
  });

  it('lists a container created from a digest or an image id as unwatched, with the reason, and inspects no image for it', async () => {
    await podman.run('pinned', `${registry.host}/team/app@${firstDigest}`, { 'herald.enable': 'true' });
    const imageId = (await podman.cli(['image', 'inspect', '--format', '{{.Id}}', app])).trim();
    await podman.run('by-id', `sha256:${imageId.replace(/^sha256:/, '')}`, { 'herald.enable': 'true' });
    proxy.reset();
    const listing = await local.list(ctx);
    const unwatched = [...listing.unwatched].sort((a, b) => a.container.localeCompare(b.container));
    expect(unwatched).toEqual([
      { container: 'by-id', image: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), reason: expect.stringMatching(/image id/) },
      { container: 'pinned', image: `${registry.host}/team/app@${firstDigest}`, reason: expect.stringMatching(/digest/) },
    ]);
    // podman names a container created from an id by the id in the listing: one container inspect
    // finds Config.Image, once; the pinned one costs nothing.
    expect(proxy.counts).toMatchObject({ list: 1, imageInspect: 0, containerInspect: 1 });
    proxy.reset();
    await local.list(ctx);
    expect(proxy.counts).toMatchObject({ list: 1, imageInspect: 0, containerInspect: 0 });
    await Promise.all([podman.remove('pinned'), podman.remove('by-id')]);
  });

  it('gives a bad label as the image problem, naming the container and the label', async () => {
    const bad = `${registry.host}/team/bad:1`;
    await pushBusyboxImage(registry, 'team/bad', '1', { seed: 'bad' });
    await podman.pull(bad);
    await podman.run('bad-1', bad, { 'herald.enable': 'true', 'herald.maxTags': 'ten' });
    const listing = await local.list(ctx);
    const image = listing.images.find((i) => i.ref.name === bad);
    expect(image?.problem).toBe('container bad-1: label herald.maxTags: "ten" is not a whole number');
    expect(listing.images.find((i) => i.ref.name === app)?.problem).toBeUndefined();
    await podman.remove('bad-1');
  });

  it('fails with one line naming the source while the engine is away, and lists again when it is back', async () => {
    const direct = open(podman.endpoint);
    await direct.list(ctx);
    await podman.stopService();
    const error = await direct.list(ctx).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toBe(`source local: cannot reach the Docker engine at ${podman.endpoint}: no such socket`);
    await podman.startService();
    const listing = await direct.list(ctx);
    expect(listing.images[0]!.containers!.map((c) => c.name).sort()).toEqual(['web-1', 'web-2']);
  }, 40_000);

  it('keeps the digest a container runs when podman forgets it after a pull of the same tag', async () => {
    // The registry's tag moved (above); pulling it again gives podman a new image, and podman 4.3
    // then reports the old one, which web-1 and web-2 still run, with no RepoDigests at all.
    const second = (await pushBusyboxImage(registry, 'team/app', '1', { seed: 'second' })).digest;
    await podman.pull(app);
    ids['web-3'] = await podman.run('web-3', app, { 'herald.enable': 'true' });
    const byName = (s: ImageSource) => s.list(ctx).then((l) => Object.fromEntries(l.images.find((i) => i.ref.name === app)!.containers!.map((c) => [c.name, c.runningDigest])));
    // This source inspected the old image before the pull: it still knows what runs.
    expect(await byName(local)).toEqual({ 'web-1': firstDigest, 'web-2': firstDigest, 'web-3': second });
    // A source started after the pull cannot know: null, watched like an image built locally.
    expect(await byName(open(proxy.endpoint))).toEqual({ 'web-1': null, 'web-2': null, 'web-3': second });
  });
});
