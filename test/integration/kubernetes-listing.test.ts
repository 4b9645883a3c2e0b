/**
 * What the Kubernetes source makes of a cluster's pods (fixtures/kubernetes.ts serves them as the API
 * server does): which pods and containers count, the running digest from each imageID form, pod
 * annotations as settings, paging and namespaces, and the images gathered from containers.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { digestFor, startKubernetes, type FakeCluster, type PodSpec } from '../../fixtures/kubernetes.js';
import { runningDigest } from '../../src/sources/kubernetes.js';
import type { ImageSource } from '../../src/sources/source.js';
import { kubeconfig, LIST, sourceFactory } from './kubernetes-helpers.js';
import { tempDir } from './helpers.js';

const TOKEN = 'listing-token-0123456789';
let cluster: FakeCluster;
let cleanup: () => void;
let make: ReturnType<typeof sourceFactory>;
const on = { 'herald.enable': 'true' };

beforeAll(async () => {
  cluster = await startKubernetes();
  const temp = tempDir('herald-k8s-list-');
  cleanup = temp.cleanup;
  make = sourceFactory(temp.dir);
  cluster.tokens.set(TOKEN, 'lister');
  writeFileSync(join(temp.dir, 'ca.crt'), cluster.pki.caPem);
  kubeconfig(join(temp.dir, 'kubeconfig.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { token: TOKEN } });
});
afterAll(async () => {
  await make.closeAll();
  await cluster.stop();
  cleanup();
});
beforeEach(() => {
  cluster.clearPods();
  cluster.requests.splice(0);
});

const source = (entry: Record<string, unknown> = {}): ImageSource => make.source({ kubeconfig: 'kubeconfig.yml', ...entry });
const pod = (name: string, image: string, more: Partial<PodSpec> = {}): PodSpec => ({ name, namespace: 'apps', annotations: on, containers: [{ name: 'main', image }], ...more });

describe('namespaces and paging', () => {
  it('lists the whole cluster by default, each namespace of the namespaces key otherwise, running pods only', async () => {
    cluster.addPods(pod('a-1', 'nginx:1'), pod('b-1', 'nginx:2', { namespace: 'web' }), pod('c-1', 'nginx:3', { namespace: 'other' }));
    const all = await source().list(LIST);
    expect(all.images.map((i) => i.ref.name).sort()).toEqual(['docker.io/library/nginx:1', 'docker.io/library/nginx:2', 'docker.io/library/nginx:3']);
    expect(cluster.requests).toEqual([expect.objectContaining({ path: '/api/v1/pods', limit: 500, fieldSelector: 'status.phase=Running', status: 200 })]);

    cluster.requests.splice(0);
    const some = await source({ namespaces: ['apps', 'web', 'apps'] }).list(LIST);
    expect(some.images.map((i) => i.ref.name).sort()).toEqual(['docker.io/library/nginx:1', 'docker.io/library/nginx:2']);
    expect(cluster.requests.map((r) => r.path)).toEqual(['/api/v1/namespaces/apps/pods', '/api/v1/namespaces/web/pods']);
  });

  it('follows continue: 1200 pods with limit 500 are 3 requests, and each container is counted once', async () => {
    const images = ['nginx:1.27', 'redis:7', 'ghcr.io/acme/api:2'];
    cluster.addPods(...Array.from({ length: 1200 }, (_, i) => pod(`p-${String(i).padStart(4, '0')}`, images[i % 3]!)));
    const listing = await source().list(LIST);
    expect(cluster.requests.map((r) => [r.limit, r.continue !== undefined])).toEqual([[500, false], [500, true], [500, true]]);
    expect(listing.images).toHaveLength(3);
    expect(listing.images.map((i) => i.containers!.length)).toEqual([400, 400, 400]);
    expect(new Set(listing.images.flatMap((i) => i.containers!.map((c) => c.id))).size).toBe(1200);
  });

  it('starts over once when a continue token has expired (410), without counting the first page twice', async () => {
    cluster.addPods(...Array.from({ length: 1200 }, (_, i) => pod(`p-${i}`, 'nginx:1.27')));
    cluster.expireNextContinue = true;
    const listing = await source().list(LIST);
    expect(cluster.requests.map((r) => r.status)).toEqual([200, 410, 200, 200, 200]);
    expect(listing.images[0]!.containers).toHaveLength(1200);
  });
});

describe('pods and containers', () => {
  it('reads the running digest from each imageID form; an image id is no digest', async () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    cluster.addPods(
      pod('containerd-1', 'nginx:1.27', { containers: [{ name: 'main', image: 'nginx:1.27', imageID: `docker.io/library/nginx@${digest}` }] }),
      pod('dockershim-1', 'redis:7', { containers: [{ name: 'main', image: 'redis:7', imageID: `docker-pullable://redis@${digest}` }] }),
      pod('loaded-1', 'local/app:dev', { containers: [{ name: 'main', image: 'local/app:dev', imageID: `sha256:${'b'.repeat(64)}` }] }),
    );
    const listing = await source().list(LIST);
    const running = Object.fromEntries(listing.images.map((i) => [i.ref.name, i.containers![0]!.runningDigest]));
    expect(running).toEqual({ 'docker.io/library/nginx:1.27': digest, 'docker.io/library/redis:7': digest, 'docker.io/local/app:dev': null });
    // dockershim's form for an image it never pulled
    expect(runningDigest(`docker://sha256:${'b'.repeat(64)}`)).toBeNull();
  });

  it('skips pods that do not run, containers not started or finished, init and ephemeral containers; keeps sidecars and restarting containers', async () => {
    cluster.addPods(
      pod('pending-1', 'nginx:pending', { phase: 'Pending' }),
      pod('done-1', 'nginx:done', { phase: 'Succeeded' }),
      pod('failed-1', 'nginx:failed', { phase: 'Failed' }),
      pod('mixed-1', 'x', {
        containers: [
          { name: 'app', image: 'app:1' },
          { name: 'pulling', image: 'app:pulling', imageID: '', state: 'waiting' },
          { name: 'crashing', image: 'app:crashing', state: 'waiting' },
          { name: 'finished', image: 'app:finished', state: 'terminated' },
        ],
        initContainers: [
          { name: 'migrate', image: 'app:migrate', state: 'terminated' },
          { name: 'proxy', image: 'envoy:1.30', restartPolicy: 'Always' },
        ],
        ephemeralContainers: [{ name: 'debugger', image: 'busybox:1' }],
      }),
    );
    const listing = await source().list(LIST);
    const containers = listing.images.flatMap((i) => i.containers!.map((c) => `${c.name} ${i.ref.name}`)).sort();
    expect(containers).toEqual(['mixed-1/app docker.io/library/app:1', 'mixed-1/crashing docker.io/library/app:crashing', 'mixed-1/proxy docker.io/library/envoy:1.30']);
  });

  it('gathers the containers of one image under one image, each with its pod, uid, namespace and running digest', async () => {
    cluster.addPods(pod('web-1', 'nginx:1.27', { uid: 'uid-1' }), pod('web-2', 'docker.io/library/nginx:1.27', { namespace: 'web', uid: 'uid-2', containers: [{ name: 'main', image: 'docker.io/library/nginx:1.27', imageID: `docker.io/library/nginx@${digestFor('old')}` }] }));
    const listing = await source().list(LIST);
    expect(listing.images).toHaveLength(1);
    expect(listing.images[0]).toMatchObject({ name: 'docker.io/library/nginx:1.27', platform: 'linux/amd64', sources: ['prod'] });
    expect(listing.images[0]!.containers).toEqual([
      { source: 'prod', name: 'web-1/main', id: 'uid-1', namespace: 'apps', runningDigest: digestFor('nginx:1.27') },
      { source: 'prod', name: 'web-2/main', id: 'uid-2', namespace: 'web', runningDigest: digestFor('old') },
    ]);
  });

  it('lists a pod created from a digest as unwatched, with the reason', async () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    cluster.addPods(pod('pinned-1', `nginx@${digest}`));
    const listing = await source().list(LIST);
    expect(listing.images).toEqual([]);
    expect(listing.unwatched).toEqual([{ container: 'apps/pinned-1/main', image: `nginx@${digest}`, reason: `created from a digest (${digest.slice(0, 19)}…), not a tag: nothing to follow` }]);
  });
});

describe('annotations', () => {
  it('herald.enable chooses with watchByDefault false; with true every pod but herald.enable=false', async () => {
    cluster.addPods(pod('on-1', 'on:1'), pod('plain-1', 'plain:1', { annotations: {} }), pod('off-1', 'off:1', { annotations: { 'herald.enable': 'false' } }));
    const names = async (watchByDefault: boolean) => (await source({ watchByDefault }).list(LIST)).images.map((i) => i.ref.repository).sort();
    expect(await names(false)).toEqual(['library/on']);
    expect(await names(true)).toEqual(['library/on', 'library/plain']);
  });

  it('reads the image keys from annotations; a bad one is a problem naming namespace/pod/container and the annotation', async () => {
    cluster.addPods(
      pod('tuned-1', 'nginx:1.27', { annotations: { ...on, 'herald.notifyOn': 'update, error', 'herald.notifiers': 'ops', 'herald.platform': 'linux/arm64/v8', 'herald.metadata.team': 'web' } }),
      pod('bad-1', 'redis:7', { namespace: 'cache', annotations: { ...on, 'herald.maxTags': 'ten' } }),
    );
    const listing = await source().list(LIST);
    const tuned = listing.images.find((i) => i.ref.repository === 'library/nginx')!;
    expect(tuned).toMatchObject({ notifyOn: ['update', 'error'], notifiers: ['ops'], platform: 'linux/arm64/v8', metadata: { team: 'web' } });
    expect(tuned.problem).toBeUndefined();
    const bad = listing.images.find((i) => i.ref.repository === 'library/redis')!;
    expect(bad.problem).toBe('container cache/bad-1/main: annotation herald.maxTags: "ten" is not a whole number');
  });
});
