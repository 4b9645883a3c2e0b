/**
 * herald against a registry that misbehaves: a real docker-registry behind the fault proxy, many
 * seeded runs of the real run loop (runOnce with a real Store and RegistryClient, as `serve` does),
 * and these promises checked after every run:
 * - no false `update`: an update is reported only for an image whose platform manifest really
 *   changed since it was last reported, and with the digest the registry really serves;
 * - no crash and no unhandled rejection: every run resolves, nothing escapes;
 * - every image ends every run as checked (new/update/unchanged) or `error`, and no error is a bug
 *   (an unexpected exception) rather than a registry problem. The one exception is by design: a
 *   429 makes the run defer the registry's remaining checks (`skipped`, state untouched) until its
 *   Retry-After (60 s without one) has passed, so `skipped` is allowed in a run that got a 429.
 *   Between runs the test moves the clock of the run and of the client 2 minutes ahead, so every
 *   such window has passed by the next run and each run checks again;
 * - every run ends within a bound derived from the timeout and retry settings;
 * - memory stays flat (heap after a full GC, after warm-up vs at the end).
 * Between some runs the test pushes new content (sometimes only for a platform not watched), so
 * real updates happen under faults too; a final run without faults must report every one of them.
 *
 * HERALD_LONG_TESTS=1 runs 400 runs instead of 30; HERALD_FAULT_SEED picks another seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { RegistryClient } from '../../src/registry/client.js';
import { Store } from '../../src/store/index.js';
import { runOnce, type RunResult } from '../../src/watch/run.js';
import { FAULT_KINDS, prng, startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type PushedIndex, type PushedManifest, type TestRegistry } from '../../fixtures/registry.js';
import { tempDir, writeConfig } from './helpers.js';

const LONG = process.env.HERALD_LONG_TESTS === '1';
const SEED = Number(process.env.HERALD_FAULT_SEED ?? 7);
const RUNS = Number(process.env.HERALD_FAULT_RUNS ?? (LONG ? 400 : 30));
const WARMUP = LONG ? 40 : 8;

// Client settings for these runs, and the worst case they allow (see runBoundMs).
const TIMEOUT_MS = 300;
const RETRIES = 2;
const RETRY_BASE_MS = 50;
const MAX_RETRY_AFTER_MS = 1_500;

/**
 * The longest a run may take. One request: RETRIES+1 attempts of at most TIMEOUT_MS each, and
 * between attempts a wait of at most max(backoff, MAX_RETRY_AFTER_MS). One check sends at most:
 * the registry ping, then HEAD, GET by tag (HEAD fallback), GET of the platform manifest and GET
 * of the config blob, each of these possibly twice (one 401 round). All images are checked in
 * parallel (workers ≥ images), so a run is one check plus the commit.
 */
function runBoundMs(): number {
  const waits = Array.from({ length: RETRIES }, (_, a) => Math.max(RETRY_BASE_MS * 2 ** a, MAX_RETRY_AFTER_MS));
  const perRequest = (RETRIES + 1) * TIMEOUT_MS + waits.reduce((x, y) => x + y, 0);
  const requestsPerCheck = 1 + 2 * 4;
  return requestsPerCheck * perRequest + 1_000; // + commit and scheduling slack
}

/** A real full GC, in this worker too (vitest workers have no --expose-gc). */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface Watched {
  image: string;
  repo: string;
  tag: string;
  kind: 'oci' | 'docker' | 'index' | 'docker-list';
  version: number;
  /** linux/amd64 manifest digest the registry serves now. */
  platformDigest: string;
  /** Tag digest the registry serves now. */
  digest: string;
  /** Every tag digest ever served: the stored digest must always be one of these. */
  served: Set<string>;
  /** The platform manifest changed and herald has not reported it yet. */
  changePending: boolean;
}

describe('fault injection: seeded runs against a misbehaving registry', () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let tmp: ReturnType<typeof tempDir>;
  let loaded: LoadedConfig;
  let store: Store;
  let client: RegistryClient;
  const bugs: string[] = [];
  const escaped: unknown[] = [];
  const onRejection = (reason: unknown): void => void escaped.push(reason);
  const onException = (err: unknown): void => void escaped.push(err);
  const watched: Watched[] = [];
  const rnd = prng(SEED);
  /** The clock of runs and client runs this far ahead of the real one (see run()). */
  let clockOffsetMs = 0;

  async function push(w: Watched, otherPlatformOnly = false): Promise<void> {
    if (!otherPlatformOnly) w.version++;
    const seed = `${w.repo}:${w.tag}-v${w.version}`;
    let pushed: PushedManifest | PushedIndex;
    if (w.kind === 'oci' || w.kind === 'docker') {
      pushed = await registry.pushImage(w.repo, w.tag, { seed, format: w.kind });
      w.platformDigest = pushed.digest;
    } else {
      const format = w.kind === 'index' ? 'oci' : 'docker';
      // arm64 gets a fresh seed on every push; amd64 (the watched platform) only with a new version.
      const index = await registry.pushIndex(w.repo, w.tag, [
        { platform: 'linux/amd64', seed },
        { platform: 'linux/arm64/v8', seed: `${seed}-arm-${rnd()}` },
      ], { format });
      const amd64 = index.platforms['linux/amd64']!.digest;
      if (otherPlatformOnly) expect(amd64).toBe(w.platformDigest);
      w.platformDigest = amd64;
      pushed = index;
    }
    w.digest = pushed.digest;
    w.served.add(pushed.digest);
    if (!otherPlatformOnly) w.changePending = true;
  }

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    tmp = tempDir('herald-faults-');
    registry = await startRegistry({ auth: 'htpasswd' });
    // app5 sits behind a HEAD that drops Docker-Content-Digest (as some proxies do): every check of it is a GET.
    proxy = await startFaultProxy(registry.url, { seed: SEED, rate: 0.3, slowMs: 2 * TIMEOUT_MS, longRetryAfterS: 3, headWithoutDigest: /\/faults\/app5\// });
    const kinds: Watched['kind'][] = ['oci', 'docker', 'index', 'docker-list', 'oci', 'index'];
    for (const [i, kind] of kinds.entries()) {
      const w: Watched = { image: `${proxy.host}/faults/app${i}:1.${i}`, repo: `faults/app${i}`, tag: `1.${i}`, kind, version: 0, platformDigest: '', digest: '', served: new Set(), changePending: false };
      await push(w);
      w.changePending = false; // the first check is `new`, not an update
      watched.push(w);
    }
    const file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'herald.db')} }`,
        `watch: { workers: ${watched.length} }`,
        'defaults: { platform: linux/amd64 }',
        'registries:',
        `  - { name: faulty, host: "${proxy.host}", insecure: true, timeout: ${TIMEOUT_MS}ms, username: ${registry.username}, password: "${registry.password}" }`,
        'images:',
        ...watched.map((w) => `  - name: ${w.image}`),
      ].join('\n'),
    );
    loaded = await loadConfig(file, {});
    store = Store.open(loaded.config.db.path);
    client = new RegistryClient({
      registries: loaded.config.registries,
      dockerConfigPath: join(tmp.dir, 'no-docker-config.json'),
      retries: RETRIES,
      retryBaseMs: RETRY_BASE_MS,
      maxRetryAfterMs: MAX_RETRY_AFTER_MS,
      now: () => Date.now() + clockOffsetMs,
    });
  }, 60_000);

  afterAll(async () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
    await client?.close();
    store?.close();
    await proxy?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  const logger = pino(
    { level: 'error' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          const msg = String((JSON.parse(line) as { msg?: string }).msg ?? '');
          if (msg.includes('(bug)')) bugs.push(msg);
        }
        done();
      },
    }),
  );

  async function run(index: number): Promise<{ result: RunResult; ms: number; got429: boolean }> {
    proxy.setRun(index);
    clockOffsetMs += 120_000;
    const before429 = proxy.injected.rateLimit;
    const started = performance.now();
    const result = await runOnce({ loaded, store, client, logger }, { now: () => new Date(Date.now() + clockOffsetMs) });
    return { result, ms: performance.now() - started, got429: proxy.injected.rateLimit > before429 };
  }

  /** What must hold after every run; returns the number of real updates it reported. */
  function verify(result: RunResult, runIndex: number, got429: boolean): number {
    const { images } = result.report;
    expect(images.map((i) => i.image).sort()).toEqual(watched.map((w) => w.image).sort());
    let updates = 0;
    for (const report of images) {
      const w = watched.find((x) => x.image === report.image)!;
      const where = `run ${runIndex}, ${w.image} (${w.kind})`;
      expect(['new', 'update', 'unchanged', 'error', ...(got429 ? ['skipped'] : [])], where).toContain(report.status);
      if (report.status === 'update') {
        // A real change, not yet reported, with the digest the registry serves now.
        expect(w.changePending, `false update in ${where}: ${JSON.stringify(report)}`).toBe(true);
        expect(report.digest, where).toBe(w.digest);
        w.changePending = false;
        updates++;
      }
      if (report.status === 'new') expect(runIndex, where).toBe(0);
    }
    for (const event of result.events) {
      if (event.status !== 'update') continue;
      const w = watched.find((x) => x.image === event.image)!;
      expect(event.platformDigest, `update event of ${w.image}`).toBe(w.platformDigest);
    }
    // The stored state only ever holds digests the registry really served.
    for (const state of store.state.all()) {
      const w = watched.find((x) => x.image === state.image)!;
      if (state.digest !== null) expect(w.served.has(state.digest), `stored digest of ${w.image} in run ${runIndex}`).toBe(true);
    }
    return updates;
  }

  it(`${RUNS} runs with faults keep every promise (seed ${SEED})`, async () => {
    const gc = gcFunction();
    const bound = runBoundMs();
    const durations: number[] = [];
    let realUpdates = 0;
    let changesPushed = 0;
    let otherPlatformPushes = 0;
    let errors = 0;
    let deferred = 0;
    let heapAfterWarmup = 0;
    const heapSamples: number[] = []; // KiB after a GC, every 50 runs

    proxy.setEnabled(false);
    const first = await run(0);
    expect(first.result.report.images.every((i) => i.status === 'new')).toBe(true);
    verify(first.result, 0, false);
    proxy.setEnabled(true);

    for (let i = 1; i <= RUNS; i++) {
      // Some runs come after real changes: one image, sometimes only the platform herald does not watch.
      if (rnd() < 0.3) {
        const w = watched[Math.floor(rnd() * watched.length)]!;
        const otherOnly = (w.kind === 'index' || w.kind === 'docker-list') && rnd() < 0.4;
        await push(w, otherOnly);
        if (otherOnly) otherPlatformPushes++;
        else changesPushed++;
      }
      const { result, ms, got429 } = await run(i);
      durations.push(ms);
      expect(ms, `run ${i} took ${Math.round(ms)} ms, bound ${bound} ms`).toBeLessThanOrEqual(bound);
      realUpdates += verify(result, i, got429);
      errors += result.report.images.filter((r) => r.status === 'error').length;
      deferred += result.report.images.filter((r) => r.status === 'skipped').length;
      if (i === WARMUP) {
        gc();
        gc();
        heapAfterWarmup = process.memoryUsage().heapUsed;
      }
      if (i % 50 === 0) {
        gc();
        heapSamples.push(Math.round(process.memoryUsage().heapUsed / 1024));
      }
    }
    gc();
    gc();
    const heapAtEnd = process.memoryUsage().heapUsed;

    // A last run without faults: whatever changed and was not reported yet is reported now.
    proxy.setEnabled(false);
    const last = await run(RUNS + 1);
    expect(last.result.report.images.filter((r) => r.status === 'error' || r.status === 'skipped')).toEqual([]);
    realUpdates += verify(last.result, RUNS + 1, false);
    expect(watched.filter((w) => w.changePending).map((w) => w.image)).toEqual([]);
    for (const w of watched) expect(store.state.all().find((s) => s.image === w.image)?.digest).toBe(w.digest);

    expect(bugs).toEqual([]);
    expect(escaped).toEqual([]);
    const faults = Object.values(proxy.injected).reduce((a, b) => a + b, 0);
    expect(faults).toBeGreaterThan(RUNS); // the runs really were faulty…
    expect(errors).toBeGreaterThan(0); // …and some faults got through the retries
    for (const kind of FAULT_KINDS) expect(proxy.injected[kind], `faults of kind ${kind}`).toBeGreaterThan(0);
    // Flat memory: what a leak of even a few kB per run would add up to over these runs shows here.
    const growth = heapAtEnd - heapAfterWarmup;
    expect(growth, `heap grew by ${growth} bytes from run ${WARMUP} to run ${RUNS}`).toBeLessThan(LONG ? 8 * 1024 ** 2 : 6 * 1024 ** 2);

    const figures = {
      seed: SEED,
      runs: RUNS + 2,
      requests: proxy.requests,
      faults,
      byKind: proxy.injected,
      imageChecks: (RUNS + 2) * watched.length,
      checkErrors: errors,
      checksDeferredBy429: deferred,
      retryAfters: proxy.retryAfters,
      changesPushed,
      otherPlatformPushes,
      updatesReported: realUpdates,
      falseUpdates: 0,
      maxRunMs: Math.round(Math.max(...durations)),
      boundMs: bound,
      heapGrowthKiB: Math.round(growth / 1024),
      heapSamplesKiB: heapSamples,
    };
    console.log(`fault-injection figures: ${JSON.stringify(figures)}`);
  }, LONG ? 1_800_000 : 120_000);
});
