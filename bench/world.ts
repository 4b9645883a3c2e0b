/**
 * The benchmark's registry world: a real docker-registry in token mode, its token server behind one
 * latency proxy and the registry behind another (so pings, tokens, HEADs and GETs all pay the same
 * fixed delay and are counted by kind), and a fast pusher for thousands of images.
 *
 * Pushing: every image is its own repository (the worst case for tokens). Blobs are uploaded once to
 * a base repository and cross-mounted into each image's repository (one POST per blob, no bytes);
 * each image's manifest differs only by an annotation, so N images cost about 3 requests each
 * (single-platform) or 7 (two-platform index), sent concurrently straight to the registry, not
 * through the proxies. A change of an image is one new manifest (plus a new index for multi-platform).
 */
import { createHash } from 'node:crypto';
import { Agent, request } from 'undici';
import { startRegistry, type TestRegistry } from '../test/fixtures/registry.js';
import { startCountingProxy, type CountingProxy, type RequestCounts } from '../test/fixtures/proxy.js';
import { buildImage, imageDescriptor, MEDIA_TYPES, toBlob, type Blob, type BuiltImage, type Descriptor } from '../test/fixtures/oci.js';

export const BASE_REPO = 'bench/base';
const PUSH_CONCURRENCY = 32;

export interface BenchImage {
  index: number;
  repo: string;
  tag: string;
  multi: boolean;
}

/** Image i: its own repository; every third one a two-platform index. */
export function benchImage(i: number): BenchImage {
  return { index: i, repo: `bench/app-${String(i).padStart(5, '0')}`, tag: '1.0', multi: i % 3 === 0 };
}

export interface World {
  registry: TestRegistry;
  /** In front of the registry: what herald talks to. */
  proxy: CountingProxy;
  /** In front of the token server (the realm the registry names). */
  tokenProxy: CountingProxy;
  username: string;
  password: string;
  setDelay(ms: number): void;
  reset(): void;
  counts(): RequestCounts & { connections: number };
  /** Makes sure images 0..n-1 exist at generation 0. */
  pushUpTo(n: number): Promise<void>;
  /** Pushes a new generation of these images (a changed manifest under the same tag). */
  change(indices: number[], generation: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorld(delayMs: number): Promise<World> {
  let tokenProxy: CountingProxy | undefined;
  const registry = await startRegistry({
    auth: 'token',
    tokenRealm: async (url) => {
      tokenProxy = await startCountingProxy(new URL(url).origin, { delayMs });
      return `${tokenProxy.url}${new URL(url).pathname}`;
    },
  });
  const proxy = await startCountingProxy(registry.url, { delayMs });
  const tokens = tokenProxy!;
  const agent = new Agent({ connections: PUSH_CONCURRENCY, keepAliveTimeout: 30_000 });
  const ts = registry.tokenServer!;
  const admin = registry.admin!;

  const amd = buildImage({ platform: 'linux/amd64', seed: 'bench' });
  const arm = buildImage({ platform: 'linux/arm64/v8', seed: 'bench' });
  const baseBlobs = [amd.config, amd.layer.blob, arm.config, arm.layer.blob];
  let pushed = 0;
  let baseReady: Promise<void> | undefined;

  function tokenFor(repos: string[]): string {
    return ts.issueToken(admin.username, [
      ...repos.map((name) => ({ type: 'repository', name, actions: ['pull', 'push'] })),
      { type: 'repository', name: BASE_REPO, actions: ['pull'] },
    ], 3600);
  }

  async function call(method: 'POST' | 'PUT' | 'HEAD', path: string, token: string, body?: Buffer, contentType?: string): Promise<{ status: number; location?: string }> {
    const res = await request(`${registry.url}${path}`, {
      method,
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}`, ...(contentType ? { 'content-type': contentType } : {}) },
      ...(body ? { body } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`);
    const location = res.headers.location;
    return { status: res.statusCode, ...(typeof location === 'string' ? { location } : {}) };
  }

  async function uploadBase(): Promise<void> {
    const token = tokenFor([BASE_REPO]);
    for (const blob of baseBlobs) {
      const start = await call('POST', `/v2/${BASE_REPO}/blobs/uploads/`, token);
      const put = new URL(start.location!, registry.url);
      put.searchParams.set('digest', blob.digest);
      await call('PUT', put.pathname + put.search, token, blob.bytes, 'application/octet-stream');
    }
  }

  async function mount(repo: string, blob: Blob, token: string): Promise<void> {
    const res = await call('POST', `/v2/${repo}/blobs/uploads/?mount=${blob.digest}&from=${BASE_REPO}`, token);
    if (res.status !== 201) throw new Error(`mount ${blob.digest} into ${repo}: ${res.status} (the registry started an upload instead)`);
  }

  async function putManifest(repo: string, reference: string, blob: Blob, mediaType: string, token: string): Promise<void> {
    await call('PUT', `/v2/${repo}/manifests/${reference}`, token, blob.bytes, mediaType);
  }

  async function pushImage(img: BenchImage, generation: number, token: string, fresh: boolean): Promise<void> {
    if (fresh) {
      const blobs = img.multi ? baseBlobs : [amd.config, amd.layer.blob];
      await Promise.all(blobs.map((b) => mount(img.repo, b, token)));
    }
    const amdManifest = annotated(amd, `${img.repo}:${img.tag}@${generation}`);
    if (!img.multi) {
      await putManifest(img.repo, img.tag, amdManifest, amd.mediaType, token);
      return;
    }
    // Only the amd64 manifest changes between generations: a real update for a linux/amd64 watcher.
    const armManifest = annotated(arm, `${img.repo}:${img.tag}`);
    await Promise.all([
      putManifest(img.repo, amdManifest.digest, amdManifest, amd.mediaType, token),
      fresh ? putManifest(img.repo, armManifest.digest, armManifest, arm.mediaType, token) : Promise.resolve(),
    ]);
    const entries: Descriptor[] = [
      { ...imageDescriptor(amd), digest: amdManifest.digest, size: amdManifest.size },
      { ...imageDescriptor(arm), digest: armManifest.digest, size: armManifest.size },
    ];
    const index = toBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: entries }), 'utf8'));
    await putManifest(img.repo, img.tag, index, MEDIA_TYPES.ociIndex, token);
  }

  async function pushMany(indices: number[], generation: number, fresh: boolean): Promise<void> {
    // One admin token per 100 repositories, minted in-process (not counted, not delayed).
    const batches: number[][] = [];
    for (let i = 0; i < indices.length; i += 100) batches.push(indices.slice(i, i + 100));
    const jobs: Array<() => Promise<void>> = [];
    for (const batch of batches) {
      const images = batch.map(benchImage);
      const token = tokenFor(images.map((b) => b.repo));
      for (const img of images) jobs.push(() => pushImage(img, generation, token, fresh));
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: PUSH_CONCURRENCY }, async () => {
        while (next < jobs.length) await jobs[next++]!();
      }),
    );
  }

  return {
    registry,
    proxy,
    tokenProxy: tokens,
    username: registry.username!,
    password: registry.password!,
    setDelay(ms) {
      proxy.setDelay(ms);
      tokens.setDelay(ms);
    },
    reset() {
      proxy.reset();
      tokens.reset();
    },
    counts() {
      return { ...proxy.counts, token: tokens.counts.token, total: proxy.counts.total + tokens.counts.total, connections: proxy.connections + tokens.connections };
    },
    async pushUpTo(n) {
      baseReady ??= uploadBase();
      await baseReady;
      if (n <= pushed) return;
      await pushMany(Array.from({ length: n - pushed }, (_, k) => pushed + k), 0, true);
      pushed = n;
    },
    async change(indices, generation) {
      await pushMany(indices, generation, false);
    },
    async stop() {
      await agent.close();
      await proxy.stop();
      await tokens.stop();
      await registry.stop();
    },
  };
}

/** The image's manifest with one annotation added: same blobs, a digest of its own. */
function annotated(img: BuiltImage, note: string): Blob {
  const doc = JSON.parse(img.manifest.bytes.toString('utf8')) as Record<string, unknown>;
  doc.annotations = { 'org.example.herald-bench': note };
  return toBlob(Buffer.from(JSON.stringify(doc), 'utf8'));
}

/** A fixed pseudo-random choice of k of n indices for a round (changes spread over single and multi). */
export function pickChanged(n: number, k: number, round: number): number[] {
  const score = (i: number) => createHash('sha1').update(`${round}:${i}`).digest().readUInt32BE(0);
  return Array.from({ length: n }, (_, i) => i)
    .map((i) => [i, score(i)] as const)
    .sort((a, b) => a[1] - b[1])
    .slice(0, k)
    .map(([i]) => i)
    .sort((a, b) => a - b);
}
