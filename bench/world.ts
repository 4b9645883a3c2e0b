/**
 * The benchmark's registry world: a real docker-registry in token mode, its token server behind one
 * latency proxy and the registry behind another (so pings, tokens, HEADs and GETs all pay the same
 * fixed delay and are counted by kind), and a fast way to put thousands of images in it.
 *
 * Images are written straight into the registry's filesystem storage (distribution 2.8's layout:
 * blobs/sha256/xx/<hex>/data, and per repository _layers, _manifests/revisions and
 * _manifests/tags/<tag>/{current,index} link files). Pushing 5000 images over HTTP took minutes on
 * a busy 2-core machine; writing the files takes seconds. Every batch is read back through the
 * registry's API (manifest by tag with the expected digest, and the config blob) before it is used,
 * and the bench itself checks that the first run sees every image as new and a change run finds
 * exactly the changed ones. Every image is its own repository (the worst case for tokens), shares
 * the same config and layer blobs, and has a manifest of its own (an annotation differs).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { startRegistry, type TestRegistry } from '../fixtures/registry.js';
import type { RequestCounts } from '../fixtures/proxy.js';
import { startDelayProxy, type DelayProxy } from './delay-proxy.js';
import { buildImage, imageDescriptor, MANIFEST_ACCEPT, MEDIA_TYPES, toBlob, type Blob, type BuiltImage, type Descriptor } from '../fixtures/oci.js';

const CHECK_CONNECTIONS = 4;

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
  proxy: DelayProxy;
  /** In front of the token server (the realm the registry names). */
  tokenProxy: DelayProxy;
  username: string;
  password: string;
  setDelay(ms: number): void;
  reset(): void;
  counts(): RequestCounts & { connections: number };
  /** CPU time (ms) used so far by the registry process and by this process (proxies, token server). */
  cpu(): { registryMs: number; proxiesMs: number };
  /** Makes sure images 0..n-1 exist at generation 0. */
  pushUpTo(n: number): Promise<void>;
  /** Pushes a new generation of these images (a changed manifest under the same tag). */
  change(indices: number[], generation: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startWorld(delayMs: number): Promise<World> {
  let tokenProxy: DelayProxy | undefined;
  // The registry shares this machine's cores with herald: Go's collector at GOGC=400 instead of 100
  // takes ~30% less of its CPU per request (it inherits this environment).
  process.env.GOGC ??= '400';
  const registry = await startRegistry({
    auth: 'token',
    tokenRealm: async (url) => {
      tokenProxy = await startDelayProxy(new URL(url).origin, delayMs);
      return `${tokenProxy.url}${new URL(url).pathname}`;
    },
  });
  const proxy = await startDelayProxy(registry.url, delayMs);
  const tokens = tokenProxy!;
  const agent = new Agent({ connections: CHECK_CONNECTIONS, keepAliveTimeout: 30_000 });
  const ts = registry.tokenServer!;
  // Tokens name their key by id instead of carrying the certificate (x5c): smaller tokens, and the
  // registry, which shares this machine's cores with herald, does not parse a certificate per request.
  ts.keyHeader = 'kid';
  const registryPid = findRegistryPid(registry.dir);
  const admin = registry.admin!;

  const amd = buildImage({ platform: 'linux/amd64', seed: 'bench' });
  const arm = buildImage({ platform: 'linux/arm64/v8', seed: 'bench' });
  const baseBlobs = [amd.config, amd.layer.blob, arm.config, arm.layer.blob];
  let pushed = 0;

  // ---- Writing the registry's filesystem storage directly (docker-registry 2.8 layout) ----
  const v2 = join(registry.dir, 'storage', 'docker', 'registry', 'v2');
  const madeDirs = new Set<string>();
  function write(path: string, data: string | Buffer): void {
    const dir = dirname(path);
    if (!madeDirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      madeDirs.add(dir);
    }
    writeFileSync(path, data);
  }
  const hex = (digest: string) => digest.slice('sha256:'.length);
  const blobData = (b: Blob) => write(join(v2, 'blobs', 'sha256', hex(b.digest).slice(0, 2), hex(b.digest), 'data'), b.bytes);
  const repoDir = (repo: string) => join(v2, 'repositories', ...repo.split('/'));
  const layerLink = (repo: string, b: Blob) => write(join(repoDir(repo), '_layers', 'sha256', hex(b.digest), 'link'), b.digest);
  function manifestRevision(repo: string, b: Blob): void {
    blobData(b);
    write(join(repoDir(repo), '_manifests', 'revisions', 'sha256', hex(b.digest), 'link'), b.digest);
  }
  function tagPoint(repo: string, tag: string, b: Blob): void {
    const tagDir = join(repoDir(repo), '_manifests', 'tags', tag);
    write(join(tagDir, 'index', 'sha256', hex(b.digest), 'link'), b.digest);
    write(join(tagDir, 'current', 'link'), b.digest);
  }

  /** Expected tag digests, for the check against the running registry. */
  const tagDigests = new Map<string, string>();

  function writeImage(img: BenchImage, generation: number, fresh: boolean): void {
    if (fresh) for (const b of img.multi ? baseBlobs : [amd.config, amd.layer.blob]) layerLink(img.repo, b);
    const amdManifest = annotated(amd, `${img.repo}:${img.tag}@${generation}`);
    manifestRevision(img.repo, amdManifest);
    if (!img.multi) {
      tagPoint(img.repo, img.tag, amdManifest);
      tagDigests.set(img.repo, amdManifest.digest);
      return;
    }
    // Only the amd64 manifest changes between generations: a real update for a linux/amd64 watcher.
    const armManifest = annotated(arm, `${img.repo}:${img.tag}`);
    if (fresh) manifestRevision(img.repo, armManifest);
    const entries: Descriptor[] = [
      { ...imageDescriptor(amd), digest: amdManifest.digest, size: amdManifest.size },
      { ...imageDescriptor(arm), digest: armManifest.digest, size: armManifest.size },
    ];
    const index = toBlob(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: entries }), 'utf8'));
    manifestRevision(img.repo, index);
    tagPoint(img.repo, img.tag, index);
    tagDigests.set(img.repo, index.digest);
  }

  /** Reads written images back through the registry's API: the layout must be what it serves. */
  async function verify(indices: number[]): Promise<void> {
    for (const i of indices) {
      const img = benchImage(i);
      const token = ts.issueToken(admin.username, [{ type: 'repository', name: img.repo, actions: ['pull'] }], 600);
      const res = await request(`${registry.url}/v2/${img.repo}/manifests/${img.tag}`, {
        method: 'GET',
        dispatcher: agent,
        headers: { authorization: `Bearer ${token}`, accept: MANIFEST_ACCEPT },
      });
      const body = await res.body.text();
      const digest = res.headers['docker-content-digest'];
      if (res.statusCode !== 200 || digest !== tagDigests.get(img.repo)) {
        throw new Error(`bench storage check: ${img.repo}:${img.tag} answered ${res.statusCode} ${String(digest)}, expected ${tagDigests.get(img.repo)}: ${body.slice(0, 200)}`);
      }
      const blob = await request(`${registry.url}/v2/${img.repo}/blobs/${amd.config.digest}`, { method: 'GET', dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
      await blob.body.dump();
      if (blob.statusCode !== 200) throw new Error(`bench storage check: config blob of ${img.repo} answered ${blob.statusCode}`);
    }
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
    cpu() {
      const own = process.cpuUsage();
      return { registryMs: processCpuMs(registryPid), proxiesMs: (own.user + own.system) / 1000 };
    },
    async pushUpTo(n) {
      if (pushed === 0) for (const b of baseBlobs) blobData(b);
      if (n <= pushed) return;
      for (let i = pushed; i < n; i++) writeImage(benchImage(i), 0, true);
      await verify([pushed, n - 1, Math.floor((pushed + n) / 2)].filter((i, k, a) => a.indexOf(i) === k));
      pushed = n;
    },
    async change(indices, generation) {
      for (const i of indices) writeImage(benchImage(i), generation, false);
      if (indices.length > 0) await verify([indices[0]!, indices[indices.length - 1]!]);
    },
    async stop() {
      await agent.close();
      await proxy.stop();
      await tokens.stop();
      await registry.stop();
    },
  };
}

/** The docker-registry process serving `dir` (its command line names dir/config.yml). */
function findRegistryPid(dir: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmd[0]?.endsWith('docker-registry') && cmd.includes(join(dir, 'config.yml'))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** utime + stime of a process from /proc/<pid>/stat, in ms (NaN when unknown). */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
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

/**
 * Tokens for a bare client checking images 0..n-1, minted the way herald batches its token requests
 * (50 repositories a token), written as a JSON array to `file` (bench/floor-client.ts reads it).
 */
export function mintBareClientTokens(world: World, n: number, file: string, ttlSeconds = 600): string {
  const ts = world.registry.tokenServer!;
  const tokens: string[] = [];
  for (let first = 0; first < n; first += 50) {
    const access = Array.from({ length: Math.min(50, n - first) }, (_, k) => ({ type: 'repository', name: benchImage(first + k).repo, actions: ['pull'] }));
    tokens.push(ts.issueToken(world.username, access, ttlSeconds));
  }
  writeFileSync(file, JSON.stringify(tokens));
  return file;
}

/** `node --import PRELOAD args…` as its own process, timed from spawn to exit, with what it wrote. */
export function runNode(preload: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', preload, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, code, stdout, stderr }));
  });
}
