/**
 * The Docker source against the Docker API fixture (fixtures/engine.ts): what a real podman cannot
 * show here — Docker's own answers (the image id in the listing once a tag was pulled again, short
 * ids, familiar names in RepoDigests, `<none>@<none>`), a thousand containers, refusals and broken
 * answers, and tcp:// with TLS client certificates.
 */
import { createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engineFleet, startFakeEngine, type EngineContainer, type EngineImage, type FakeEngine } from '../../fixtures/engine.js';
import { freePort } from '../../fixtures/ports.js';
import { makeTlsMaterial, type TlsMaterial } from '../../fixtures/tls-certs.js';
import { resolveEndpoint } from '../../src/sources/docker-engine.js';
import { dockerSchema, dockerSource } from '../../src/sources/docker.js';
import { hostPlatform } from '../../src/sources/image-options.js';
import { SourceError, type ImageSource, type ListContext } from '../../src/sources/source.js';
import { silentLogger } from '../../src/util/log.js';

const ctx: ListContext = { defaults: {}, notifierNames: [] };
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const imageId = (n: number) => `sha256:${(0xabc000 + n).toString(16).padStart(64, 'e')}`;

const opened: ImageSource[] = [];
function source(extra: Record<string, unknown>, dir = process.cwd()): ImageSource {
  const s = dockerSource.create(dockerSchema.parse({ name: 'local', type: 'docker', timeout: '2s', ...extra }), { logger: silentLogger, dir });
  opened.push(s);
  return s;
}
async function failure(s: ImageSource): Promise<string> {
  const err = await s.list(ctx).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SourceError);
  const message = (err as Error).message;
  expect(message).not.toMatch(/\n/);
  return message;
}

const engines: FakeEngine[] = [];
async function engine(images: EngineImage[], containers: EngineContainer[]): Promise<FakeEngine> {
  const e = await startFakeEngine({ images, containers });
  engines.push(e);
  return e;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  await Promise.all(engines.splice(0).map((e) => e.stop()));
});

describe('the docker source against the Docker API fixture', () => {
  it('lists 1000 containers over 100 images: 1 listing and 100 inspects, then 1 listing and 0 inspects', async () => {
    const fleet = engineFleet({ images: Array.from({ length: 100 }, (_, i) => ({ reference: `registry.example.com/team/app-${i}:1`, digest: digest(i) })), containers: 1000 });
    const e = await engine(fleet.images, fleet.containers);
    const s = source({ endpoint: e.endpoint });
    const first = await s.list(ctx);
    expect(e.counts).toMatchObject({ list: 1, imageInspect: 100, containerInspect: 0, total: 101 });
    expect(first.images).toHaveLength(100);
    for (const image of first.images) {
      const n = Number(/app-(\d+)/.exec(image.ref.name)![1]);
      expect(image.containers).toHaveLength(10);
      expect(new Set(image.containers!.map((c) => c.runningDigest))).toEqual(new Set([digest(n)]));
      expect(image.platform).toBe('linux/amd64');
    }
    e.reset();
    const second = await s.list(ctx);
    expect(e.counts).toMatchObject({ list: 1, imageInspect: 0, containerInspect: 0, total: 1 });
    expect(second.images.flatMap((i) => i.containers!)).toHaveLength(1000);
  });

  it("reads Config.Image once when Docker lists a container by its image id (the tag was pulled again), and keeps the digest it runs", async () => {
    const old: EngineImage = { id: imageId(1), repoDigests: [`nginx@${digest(1)}`], architecture: 'arm64', variant: 'v8' };
    const web: EngineContainer = { id: 'c1'.padEnd(64, '0'), name: 'web', image: 'nginx:1.27', imageId: old.id, listedImage: old.id, labels: { 'herald.enable': 'true' } };
    const e = await engine([old], [web]);
    const s = source({ endpoint: e.endpoint });
    const listing = await s.list(ctx);
    expect(listing.images.map((i) => [i.ref.name, i.platform, i.containers!.map((c) => c.runningDigest)])).toEqual([['docker.io/library/nginx:1.27', 'linux/arm64/v8', [digest(1)]]]);
    expect(e.counts).toMatchObject({ list: 1, imageInspect: 1, containerInspect: 1 });
    e.reset();
    await s.list(ctx);
    expect(e.counts).toMatchObject({ list: 1, imageInspect: 0, containerInspect: 0 });
  });

  it('takes a short image id for an id, not a Hub repository, and costs no inspect for it', async () => {
    const image: EngineImage = { id: imageId(2), repoDigests: [] };
    const short = image.id.slice('sha256:'.length, 'sha256:'.length + 12);
    const e = await engine([image], [{ id: 'c2'.padEnd(64, '0'), name: 'adhoc', image: short, imageId: image.id, labels: { 'herald.enable': 'true' } }]);
    const listing = await source({ endpoint: e.endpoint }).list(ctx);
    expect(listing.images).toEqual([]);
    expect(listing.unwatched).toEqual([{ container: 'adhoc', image: image.id, reason: expect.stringMatching(/image id/) }]);
    expect(e.counts).toMatchObject({ list: 1, imageInspect: 0, containerInspect: 0 });
  });

  it("matches RepoDigests to the container's repository however either is spelled", async () => {
    const images: EngineImage[] = [
      { id: imageId(3), repoDigests: ['<none>@<none>', `other/thing@${digest(9)}`, `nginx@${digest(3)}`] },
      { id: imageId(4), repoDigests: [`docker.io/acme/api@${digest(4)}`] },
      { id: imageId(5), repoDigests: [] }, // built locally, never pulled
    ];
    const labels = { 'herald.enable': 'true' };
    const e = await engine(images, [
      { id: 'a'.repeat(64), name: 'a', image: 'docker.io/library/nginx:1.27', imageId: images[0]!.id, labels },
      { id: 'b'.repeat(64), name: 'b', image: 'index.docker.io/acme/api:2', imageId: images[1]!.id, labels },
      { id: 'c'.repeat(64), name: 'c', image: 'mine:dev', imageId: images[2]!.id, labels },
    ]);
    const listing = await source({ endpoint: e.endpoint }).list(ctx);
    expect(Object.fromEntries(listing.images.map((i) => [i.ref.name, i.containers![0]!.runningDigest]))).toEqual({
      'docker.io/library/nginx:1.27': digest(3),
      'docker.io/acme/api:2': digest(4),
      'docker.io/library/mine:dev': null,
    });
  });

  it('costs nothing for containers it does not watch, and asks for stopped ones only with watchStopped', async () => {
    const fleet = engineFleet({ images: [{ reference: 'x.example/a:1', digest: digest(1) }], containers: 2, labels: {} });
    fleet.containers.push({ ...fleet.containers[0]!, id: 'f'.repeat(64), name: 'gone', labels: { 'herald.enable': 'true' }, running: false });
    const e = await engine(fleet.images, fleet.containers);
    expect(await source({ endpoint: e.endpoint }).list(ctx)).toEqual({ images: [], unwatched: [] });
    expect(e.log).toEqual(['GET /containers/json']);
    e.reset();
    const stopped = await source({ endpoint: e.endpoint, watchStopped: true }).list(ctx);
    expect(stopped.images[0]!.containers!.map((c) => c.name)).toEqual(['gone']);
    expect(e.log).toEqual(['GET /containers/json?all=true', `GET /images/${encodeURIComponent(fleet.images[0]!.id)}/json`]);
  });

  it('lists a container whose image was removed since, without digest or platform, and asks again next run', async () => {
    const e = await engine([], [{ id: 'd'.repeat(64), name: 'orphan', image: 'x.example/a:1', imageId: imageId(6), labels: { 'herald.enable': 'true' } }]);
    const s = source({ endpoint: e.endpoint });
    const listing = await s.list(ctx);
    expect(listing.images.map((i) => [i.platform, i.containers![0]!.runningDigest])).toEqual([[hostPlatform(), null]]);
    e.reset();
    await s.list(ctx);
    expect(e.counts.imageInspect).toBe(1);
  });

  it('says in one line when the engine refuses, breaks or answers something else', async () => {
    const e = await engine([], []);
    const s = source({ endpoint: e.endpoint });
    e.failWith = { status: 403, body: '<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.</body></html>\n' };
    expect(await failure(s)).toBe(`source local: the Docker engine at ${e.endpoint} refused GET /containers/json (HTTP 403: <html><body><h1>403 Forbidden</h1> Request forbidden by administrative rules.</body></html>); a socket proxy must allow containers and images`);
    e.failWith = { status: 401, body: 'Unauthorized' };
    expect(await failure(s)).toBe(`source local: the Docker engine at ${e.endpoint} refused GET /containers/json (HTTP 401: Unauthorized); check the credentials in the endpoint URL`);
    e.failWith = { status: 500, body: '{"message":"devmapper: Unknown device"}' };
    expect(await failure(s)).toBe(`source local: the Docker engine at ${e.endpoint} answered GET /containers/json with HTTP 500: devmapper: Unknown device`);
    e.failWith = { status: 200, body: 'hello' };
    expect(await failure(s)).toBe(`source local: ${e.endpoint} answered GET /containers/json with something that is not JSON (is it a Docker engine?)`);
    e.failWith = { status: 200, body: '{"Containers": []}' };
    expect(await failure(s)).toMatch(/^source local: .* answered GET \/containers\/json with an unexpected shape: .*\(is it a Docker engine\?\)$/);
    e.failWith = { status: 200, body: '[{"Id": "x", "Image": 3, "ImageID": "y"}]' };
    expect(await failure(s)).toMatch(/unexpected shape at \[0\]\.Image: /);
    e.failWith = undefined;
    expect(await s.list(ctx)).toEqual({ images: [], unwatched: [] });
  });

  it('says in one line when the engine cannot be reached, without credentials', async () => {
    expect(await failure(source({ endpoint: 'unix:///nonexistent/docker.sock' }))).toBe('source local: cannot reach the Docker engine at unix:///nonexistent/docker.sock: no such socket');
    const port = await freePort();
    expect(await failure(source({ endpoint: `tcp://127.0.0.1:${port}` }))).toBe(`source local: cannot reach the Docker engine at tcp://127.0.0.1:${port}: connection refused`);
    expect(await failure(source({ endpoint: `https://herald:s3cret@127.0.0.1:${port}` }))).toBe(`source local: cannot reach the Docker engine at https://***@127.0.0.1:${port}: connection refused`);
    const silent: Server = createServer(() => undefined); // accepts, never answers
    const host = await new Promise<string>((resolve) => silent.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(silent.address() as { port: number }).port}`)));
    try {
      expect(await failure(source({ endpoint: `tcp://${host}`, timeout: '300ms' }))).toBe(`source local: cannot reach the Docker engine at tcp://${host}: no answer within 300ms`);
    } finally {
      silent.close();
    }
  });
});

describe('the docker source over tcp:// with TLS client certificates', () => {
  let tls: TlsMaterial;
  let e: FakeEngine;
  const fleet = engineFleet({ images: [{ reference: 'x.example/a:1', digest: digest(7) }], containers: 1 });

  beforeAll(async () => {
    tls = await makeTlsMaterial();
    e = await startFakeEngine({ ...fleet, tls: { key: tls.pem.serverKey, cert: tls.pem.serverCert, ca: tls.pem.ca } });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await e?.stop();
    if (tls !== undefined) rmSync(tls.dir, { recursive: true, force: true });
  });
  const tcp = () => e.endpoint.replace('https://', 'tcp://');

  it('lists with the client certificate, the files named relative to the config folder', async () => {
    const dir = process.cwd();
    const files = { caFile: relative(dir, tls.caFile), certFile: relative(dir, tls.clientCertFile), keyFile: relative(dir, tls.clientKeyFile) };
    const listing = await source({ endpoint: tcp(), tls: files }, dir).list(ctx);
    expect(listing.images[0]!.containers![0]!.runningDigest).toBe(digest(7));
    expect(e.lastAuthorization).toBeUndefined();
  });

  it('sends the credentials of an https://user:password@ endpoint (a proxy in front of the engine) as Basic auth', async () => {
    const endpoint = e.endpoint.replace('https://', 'https://herald:s%40cret@');
    await source({ endpoint, tls: { caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile } }).list(ctx);
    expect(e.lastAuthorization).toBe(`Basic ${Buffer.from('herald:s@cret').toString('base64')}`);
  });

  it('refuses an engine certificate its CA did not sign, and is refused without a good client certificate', async () => {
    expect(await failure(source({ endpoint: tcp(), tls: { certFile: tls.clientCertFile, keyFile: tls.clientKeyFile } }))).toMatch(/: its TLS certificate is not trusted \(\w+\); set tls\.caFile$/);
    // TLS 1.3: the engine's refusal arrives as a closed connection, so the message says what it likely means.
    const refused = /: (the TLS handshake failed.*|the connection was closed \(an engine that wants a client certificate closes it on a missing or unknown one: check tls\.certFile and tls\.keyFile\))$/;
    expect(await failure(source({ endpoint: tcp(), tls: { caFile: tls.caFile } }))).toMatch(refused);
    expect(await failure(source({ endpoint: tcp(), tls: { caFile: tls.caFile, certFile: tls.strangerCertFile, keyFile: tls.strangerKeyFile } }))).toMatch(refused);
    expect(await failure(source({ endpoint: tcp(), tls: { caFile: tls.caFile, certFile: tls.clientCertFile } }))).toBe('source local: tls needs both certFile and keyFile for a client certificate');
    expect(await failure(source({ endpoint: tcp(), tls: { caFile: '/nonexistent/ca.pem' } }))).toBe('source local: cannot read tls.caFile /nonexistent/ca.pem: file not found');
  });
});

describe('where the docker source looks for the engine', () => {
  it('says which source a $DOCKER_HOST it cannot use belongs to', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'ssh://deploy:pw@build-host';
    try {
      expect(await failure(source({}))).toBe('source local: $DOCKER_HOST ssh://***@build-host: use unix://, tcp://, http:// or https://');
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });


  it('takes the endpoint, else $DOCKER_HOST (with $DOCKER_TLS_VERIFY and $DOCKER_CERT_PATH), else the default socket', () => {
    expect(resolveEndpoint(undefined, undefined, '/etc/herald', {})).toEqual({ display: 'unix:///var/run/docker.sock', origin: 'http://localhost', socketPath: '/var/run/docker.sock' });
    expect(resolveEndpoint(undefined, undefined, '/etc/herald', { DOCKER_HOST: 'unix:///run/podman/podman.sock' }).socketPath).toBe('/run/podman/podman.sock');
    expect(resolveEndpoint(undefined, undefined, '/etc/herald', { DOCKER_HOST: 'tcp://10.0.0.5:2375' })).toEqual({ display: 'tcp://10.0.0.5:2375', origin: 'http://10.0.0.5:2375' });
    expect(resolveEndpoint(undefined, undefined, '/x', { DOCKER_HOST: 'tcp://10.0.0.5:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' })).toEqual({
      display: 'tcp://10.0.0.5:2376',
      origin: 'https://10.0.0.5:2376',
      tls: { caFile: '/certs/ca.pem', certFile: '/certs/cert.pem', keyFile: '/certs/key.pem' },
    });
    expect(resolveEndpoint('tcp://docker', undefined, '/x', {}).origin).toBe('http://docker:2375');
    expect(resolveEndpoint('tcp://docker', {}, '/x', {}).origin).toBe('https://docker:2376');
    expect(resolveEndpoint('tcp://docker:2376', { caFile: 'certs/ca.pem' }, '/etc/herald', { DOCKER_HOST: 'unix:///elsewhere' })).toEqual({
      display: 'tcp://docker:2376',
      origin: 'https://docker:2376',
      tls: { caFile: '/etc/herald/certs/ca.pem' },
    });
  });
});

describe('config validate', () => {
  it('checks a docker source without calling its engine', async () => {
    const { herald, tempDir, writeConfig } = await import('./helpers.js');
    const fleet = engineFleet({ images: [{ reference: 'registry.example.com/team/app:1', digest: digest(1) }], containers: 3 });
    const e = await engine(fleet.images, fleet.containers);
    const tmp = tempDir();
    try {
      const file = writeConfig(tmp.dir, `db: { path: ${tmp.dir}/h.db }\nsources:\n  - { name: local, type: docker, endpoint: "${e.endpoint}" }\n`);
      const r = await herald(['config', 'validate', '-c', file]);
      expect(r.code, r.stderr).toBe(0);
      expect(e.counts.total).toBe(0);
      const bad = writeConfig(tmp.dir, 'sources:\n  - { name: local, type: docker, endpoint: "ftp://x" }\n', 'bad.yml');
      const refused = await herald(['config', 'validate', '-c', bad]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/bad\.yml:2:\d+: sources\[0\]\.endpoint: endpoint must be unix:\/\/\/path\/to\/docker\.sock or tcp:\/\/host:port/);
      const taken = writeConfig(tmp.dir, `sources:\n  - { name: config, type: docker, endpoint: "${e.endpoint}" }\n`, 'taken.yml');
      const named = await herald(['config', 'validate', '-c', taken]);
      expect(named.code).toBe(2);
      expect(named.stderr).toMatch(/taken\.yml:2:\d+: sources\[0\]\.name: "config" names the config's own images; choose another name/);
      expect(e.counts.total).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('images prune', () => {
  it('keeps the images of a source it cannot list, and forgets those its engine no longer runs', async () => {
    const { herald, tempDir, writeConfig } = await import('./helpers.js');
    const { Store } = await import('../../src/store/index.js');
    const tmp = tempDir();
    try {
      const db = `${tmp.dir}/h.db`;
      const store = Store.open(db);
      const state = (image: string) => ({
        image, platform: 'linux/amd64', digest: digest(1), mediaType: null, platformDigest: digest(1), created: null, labels: null,
        firstSeen: 'x', lastChecked: 'x', lastChanged: null, error: null, errorSince: null, sources: ['local'],
      });
      store.commitRun({ states: [state('registry.example.com/team/app:1'), state('registry.example.com/team/gone:1')], events: [], deliveries: [] });
      store.close();

      const down = writeConfig(tmp.dir, `db: { path: ${db} }\nsources:\n  - { name: local, type: docker, endpoint: "unix://${tmp.dir}/no.sock", timeout: 2s }\n`, 'down.yml');
      const kept = await herald(['images', 'prune', '-c', down]);
      expect(kept.code, kept.stderr).toBe(0);
      expect(kept.stdout).toMatch(/^keeping the images of source local, which could not be listed: source local: .+$/m);
      expect(kept.stdout).toContain('pruned 0 image states');

      const fleet = engineFleet({ images: [{ reference: 'registry.example.com/team/app:1', digest: digest(1) }], containers: 1 });
      const e = await engine(fleet.images, fleet.containers);
      const up = writeConfig(tmp.dir, `db: { path: ${db} }\nsources:\n  - { name: local, type: docker, endpoint: "${e.endpoint}", watchByDefault: true }\n`, 'up.yml');
      const pruned = await herald(['images', 'prune', '-c', up]);
      expect(pruned.code, pruned.stderr).toBe(0);
      expect(pruned.stdout).toContain('removed registry.example.com/team/gone:1 (linux/amd64)');
      expect(pruned.stdout).toContain('pruned 1 image state');
    } finally {
      tmp.cleanup();
    }
  });
});
