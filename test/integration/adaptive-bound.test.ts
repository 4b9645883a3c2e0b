/**
 * The adaptive per-registry bound against a real registry behind a counting proxy that adds a fixed
 * latency and counts the requests it is answering at once: with nothing set, a registry that answers
 * fast and sends no rate-limit headers gets more than its default bound of checks in flight; with
 * `watch.workers` or the entry's `concurrency` set, with RateLimit headers, or after a 429, it never
 * gets more than its bound. The same images and events either way.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { loadConfig } from '../../src/config/load.js';
import { Store } from '../../src/store/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { runOnce, type RunResult } from '../../src/watch/run.js';
import { silentLogger } from '../../src/util/log.js';
import { GROWTH_FACTOR } from '../../src/watch/adaptive.js';
import { registryEntry, tempDir, writeConfig } from './helpers.js';

const TAGS = Array.from({ length: 60 }, (_, i) => `t${i}`);
/** watchRepo images: each its own repository, one tag, so a check is one listing and one HEAD. */
const REPOS = Array.from({ length: 20 }, (_, i) => `wr/app-${i}`);
/** The default per-registry bound: watch.workers (default 10), at most 16. */
const DEFAULT_BOUND = 10;

describe('adaptive per-registry bound', () => {
  let registry: TestRegistry;
  let proxy: CountingProxy;
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    proxy = await startCountingProxy(registry.url, { delayMs: 30 });
    tmp = tempDir();
    for (const tag of TAGS) await registry.pushImage('ab/app', tag, { seed: 'same' });
    for (const repo of REPOS) await registry.pushImage(repo, '1.0', { seed: 'same' });
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  /** A fresh client and database (as `herald check` has): a first run, then a measured warm one. */
  async function warmRun(extra: { watch?: string; entry?: string; images?: string[] } = {}, before?: () => void): Promise<{ run: RunResult; maxInFlight: number }> {
    const name = `c${n++}`;
    const file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, `${name}.db`)} }`,
        ...(extra.watch !== undefined ? [extra.watch] : []),
        'defaults: { platform: linux/amd64 }',
        'registries:',
        registryEntry('r', proxy.host, registry),
        ...(extra.entry !== undefined ? [extra.entry] : []),
        'images:',
        ...(extra.images ?? TAGS.map((t) => `  - name: ${proxy.host}/ab/app:${t}`)),
      ].join('\n'),
      `${name}.yml`,
    );
    const loaded = await loadConfig(file, {});
    const store = Store.open(loaded.config.db.path);
    const client = new RegistryClient({ registries: loaded.config.registries, logger: silentLogger, retries: 0 });
    try {
      await runOnce({ loaded, store, client, logger: silentLogger });
      before?.();
      proxy.reset();
      const run = await runOnce({ loaded, store, client, logger: silentLogger });
      return { run, maxInFlight: proxy.maxInFlight };
    } finally {
      await client.close();
      store.close();
      proxy.setRateLimit(undefined);
    }
  }

  it('grows past the default bound on a fast registry without rate-limit headers, and checks the same', async () => {
    const { run, maxInFlight } = await warmRun();
    expect(run.report.images.map((i) => i.status)).toEqual(TAGS.map(() => 'unchanged'));
    expect(proxy.counts.head).toBe(TAGS.length);
    expect(maxInFlight).toBeGreaterThan(DEFAULT_BOUND);
    expect(maxInFlight).toBeLessThanOrEqual(DEFAULT_BOUND * GROWTH_FACTOR);
  });

  it('stays at the bound when watch.workers is set', async () => {
    const { run, maxInFlight } = await warmRun({ watch: 'watch: { workers: 10 }' });
    expect(run.report.images.every((i) => i.status === 'unchanged')).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(10);
  });

  it("stays at the registry entry's concurrency", async () => {
    const { maxInFlight } = await warmRun({ entry: '    concurrency: 6' });
    expect(maxInFlight).toBeLessThanOrEqual(6);
  });

  it('stays at the bound when the registry sends RateLimit headers', async () => {
    const { run, maxInFlight } = await warmRun({}, () => proxy.setRateLimit({ limit: 100_000, counts: ['head'] }));
    expect(run.report.images.every((i) => i.status === 'unchanged')).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(DEFAULT_BOUND);
  });

  it('stays at the bound after a 429 and defers the rest, as before', async () => {
    const { run, maxInFlight } = await warmRun({}, () => proxy.setRateLimit({ limit: 100, remaining: 0, counts: ['head'], retryAfter: 3600 }));
    expect(run.report.images.every((i) => i.status === 'skipped')).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(DEFAULT_BOUND);
  });

  describe("watchRepo: an image's listing and its own HEAD together", () => {
    const images = REPOS.map((r) => `  - { name: "PROXY/${r}:1.0", watchRepo: true, newerOnly: true, sortTags: semver }`);
    const watch = 'watch: { workers: 10 }'; // a fixed bound: what is in flight beyond it is the pairs
    const headsBeforeLastListing = (): number => {
      const kinds = proxy.log.map((e) => e.kind);
      return kinds.slice(0, kinds.lastIndexOf('tags')).filter((k) => k === 'head').length;
    };

    it('sends both at once, within one slot: up to twice the bound in requests, the same checks', async () => {
      const { run, maxInFlight } = await warmRun({ watch, images: images.map((l) => l.replace('PROXY', proxy.host)) });
      expect(run.report.images.map((i) => i.status)).toEqual(REPOS.map(() => 'unchanged'));
      expect(proxy.counts.tags).toBe(REPOS.length);
      expect(proxy.counts.head).toBe(REPOS.length);
      expect(maxInFlight).toBeGreaterThan(10);
      expect(maxInFlight).toBeLessThanOrEqual(20);
      expect(headsBeforeLastListing()).toBeGreaterThan(10);
    });

    it('once RateLimit headers come, the HEADs wait for the check phase as before', async () => {
      const { run } = await warmRun({ watch, images: images.map((l) => l.replace('PROXY', proxy.host)) }, () => proxy.setRateLimit({ limit: 100_000 }));
      expect(run.report.images.map((i) => i.status)).toEqual(REPOS.map(() => 'unchanged'));
      expect(proxy.counts.tags + proxy.counts.head).toBe(2 * REPOS.length);
      // Only the first wave, sent before any answer said there is a limit, went beside its listing.
      expect(headsBeforeLastListing()).toBeLessThanOrEqual(10);
    });
  });
});
