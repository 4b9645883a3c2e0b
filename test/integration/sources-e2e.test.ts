/**
 * What a user of the Docker source sees, through the real CLI: label a container, and when its tag
 * moves, one notification names the container, the digest it runs and the one it could run. Then
 * nothing more until the tag moves again; a recreated container is quietly up to date; an engine
 * that goes away is one line and exit 1, with the image's state kept.
 * A real podman engine, a real docker-registry, a real HTTP receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushBusyboxImage } from '../../fixtures/busybox-image.js';
import { podmanUnavailable, startPodman, type Podman } from '../../fixtures/podman.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { herald, tempDir, writeConfig } from './helpers.js';

const unavailable = podmanUnavailable();

interface WebhookEvent {
  status: string;
  image: string;
  digest: string;
  runningDigest?: string | null;
  containers?: Array<{ source: string; name: string; runningDigest: string | null; outdated: boolean }>;
}

describe.skipIf(unavailable !== undefined)(`a docker source through the CLI${unavailable !== undefined ? ` (skipped: ${unavailable})` : ''}`, () => {
  let registry: TestRegistry;
  let podman: Podman;
  let sink: HttpSink;
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let app: string;
  let first: string;
  let second: string;

  const received = (): WebhookEvent[] => sink.requests.flatMap((r) => (JSON.parse(r.body.toString('utf8')) as { events: WebhookEvent[] }).events);
  const check = async () => herald(['check', '--json', '-c', file], { timeoutMs: 60_000 });

  beforeAll(async () => {
    [registry, podman, sink] = await Promise.all([startRegistry(), startPodman(), startHttpSink()]);
    tmp = tempDir('herald-sources-');
    app = `${registry.host}/team/app:1`;
    first = (await pushBusyboxImage(registry, 'team/app', '1', { seed: 'one' })).digest;
    await podman.pull(app);
    await podman.run('web-1', app, { 'herald.enable': 'true' });
    await podman.run('ignored', app);
    file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${tmp.dir}/herald.db }`,
        'registries:',
        `  - { name: local, host: "${registry.host}", insecure: true, timeout: 5s }`,
        'sources:',
        `  - { name: engine, type: docker, endpoint: "unix://${podman.socketPath}", timeout: 5s }`,
        'notifiers:',
        `  - { name: hook, type: webhook, url: "${sink.url}" }`,
      ].join('\n'),
    );
  }, 180_000);

  afterAll(async () => {
    await sink?.close();
    await podman?.close();
    await registry?.stop();
    tmp?.cleanup();
  }, 60_000);

  it('a first check of an up-to-date container: the image is watched, no notification', async () => {
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.images).toEqual([expect.objectContaining({ image: app, status: 'new', digest: first, containers: 1, outdated: 0 })]);
    expect(report.sources).toEqual([expect.objectContaining({ name: 'engine', error: null, images: 1, containers: 1 })]);
    expect(received()).toEqual([]);
  });

  it('the tag moves: one update naming the container, the digest it runs and the registry\'s', async () => {
    second = (await pushBusyboxImage(registry, 'team/app', '1', { seed: 'two' })).digest;
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).images[0]).toMatchObject({ status: 'update', digest: second, outdated: 1 });
    const events = received();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: 'update', image: app, digest: second, runningDigest: first });
    expect(events[0]!.containers).toEqual([expect.objectContaining({ source: 'engine', name: 'web-1', runningDigest: first, outdated: true })]);

    const list = await herald(['images', 'list', '-c', file]);
    expect(list.stdout).toMatch(new RegExp(`${app.replace(/[.:/]/g, '\\$&')}\\s.*engine\\s+1, 1 outdated`));
  });

  it('the next runs say nothing more while the container stays behind', async () => {
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(received()).toHaveLength(1);
  });

  it('a container recreated on the new digest is up to date again, without a notification', async () => {
    await podman.pull(app);
    await podman.remove('web-1');
    await podman.run('web-1', app, { 'herald.enable': 'true' });
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).images[0]).toMatchObject({ status: 'unchanged', outdated: 0 });
    expect(received()).toHaveLength(1);
    const inspect = await herald(['images', 'inspect', app, '-c', file]);
    expect(inspect.stdout).toContain(`container:      engine web-1 runs ${second}`);
    expect(inspect.stdout).not.toContain('(outdated)');
  });

  it('an engine that goes away is one line and exit 1; the image keeps its state and is not notified again', async () => {
    await podman.stopService();
    try {
      const r = await herald(['check', '-c', file], { timeoutMs: 60_000 });
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^source engine not listed: source engine: .+$/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await podman.startService();
    }
    const back = await check();
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout).images[0]).toMatchObject({ status: 'unchanged' });
    expect(received()).toHaveLength(1);
  });
});
