/**
 * Rate-limit awareness against a real registry behind a proxy that enforces a Docker Hub-style
 * budget (RateLimit-Limit/-Remaining headers, 429 with Retry-After once it is spent): checks the
 * budget cannot cover are deferred (`skipped`: no state change, no event) with one log line, they go
 * first on the next run, a 429 stops the registry's checks, and another registry is not held up.
 * What herald learnt of the budget is read where users see it: the deferral log lines and the
 * rate-limit gauge of /metrics.
 */
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { loadConfig } from '../../src/config/load.js';
import { Store } from '../../src/store/index.js';
import { RegistryClient } from '../../src/registry/client.js';
import { runOnce, type RunResult } from '../../src/watch/run.js';
import { createLogger } from '../../src/util/log.js';
import { Metrics } from '../../src/server/metrics.js';
import { registryEntry, tempDir, writeConfig } from './helpers.js';

const TAGS = Array.from({ length: 20 }, (_, i) => `t${i}`);

describe('rate limits', () => {
  let registry: TestRegistry;
  let limited: CountingProxy;
  let other: CountingProxy;
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  let client: RegistryClient;
  let run: () => Promise<RunResult>;
  let metrics: Metrics;
  const lines: Array<{ level: number; msg: string; registry?: string }> = [];

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    limited = await startCountingProxy(registry.url);
    other = await startCountingProxy(registry.url);
    tmp = tempDir();
    for (const tag of TAGS) await registry.pushImage('rl/app', tag, { seed: `v1-${tag}` });
    const file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'herald.db')} }`,
        // One worker: the order in which checks spend the budget is exact.
        'watch: { workers: 1 }',
        'defaults: { platform: linux/amd64 }',
        'registries:',
        registryEntry('limited', limited.host, registry),
        registryEntry('other', other.host, registry),
        'images:',
        ...TAGS.map((t) => `  - name: ${limited.host}/rl/app:${t}`),
        ...TAGS.slice(0, 3).map((t) => `  - name: ${other.host}/rl/app:${t}`),
      ].join('\n'),
    );
    const loaded = await loadConfig(file, {});
    store = Store.open(loaded.config.db.path);
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = createLogger({ level: 'info', destination: sink, pretty: false });
    metrics = new Metrics({ store: () => store, processMetrics: false });
    client = new RegistryClient({ registries: loaded.config.registries, logger, retries: 0, onRequest: metrics.registryRequest });
    run = () => runOnce({ loaded, store, client, logger });
    const first = await run();
    expect(first.report.images.every((i) => i.status === 'new')).toBe(true);
  });

  afterAll(async () => {
    await client?.close();
    store?.close();
    await limited?.stop();
    await other?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  const statusOf = (r: RunResult, host: string) => r.report.images.filter((i) => i.image.startsWith(host)).map((i) => [i.image.split(':').pop(), i.status]);
  /** The herald_registry_rate_limit_remaining line of a registry in /metrics, if there is one. */
  const remainingGauge = async (host: string) =>
    (await metrics.render()).body.split('\n').find((line) => line.startsWith(`herald_registry_rate_limit_remaining{registry="${host}"}`));

  it('defers what a low budget cannot cover, as skipped, with one log line; the other registry goes on', async () => {
    // t19 changes, but its check will be deferred: that must not become an event or a state change.
    await registry.pushImage('rl/app', 't19', { seed: 'v2-t19' });
    const before = store.state.get(`${limited.host}/rl/app:t19`, 'linux/amd64')!;
    limited.setRateLimit({ limit: 20, remaining: 12 });
    limited.reset();
    lines.length = 0;

    const r = await run();

    // 12 left of 20: checks spend it down to the reserve of 2 (a tenth), i.e. 10 HEADs, then stop.
    expect(statusOf(r, limited.host)).toEqual(TAGS.map((t, i) => [t, i < 10 ? 'unchanged' : 'skipped']));
    expect(limited.counts).toMatchObject({ head: 10, getManifest: 0, total: 10 });
    expect(limited.rateLimitRemaining()).toBe(2);
    expect(statusOf(r, other.host).every(([, s]) => s === 'unchanged')).toBe(true);
    expect(r.events).toEqual([]);
    expect(store.state.get(`${limited.host}/rl/app:t19`, 'linux/amd64')).toEqual(before);

    const deferrals = lines.filter((l) => /deferring/.test(l.msg));
    expect(deferrals).toHaveLength(1);
    expect(deferrals[0]!.msg).toBe(`${limited.host}: rate limit low: 2 of 20 per 6h left; deferring its remaining checks (10) to the next run`);
    expect(lines.find((l) => /^run finished/.test(l.msg))).toMatchObject({ skipped: 10, unchanged: 13 });

    expect(await remainingGauge(limited.host)).toBe(`herald_registry_rate_limit_remaining{registry="${limited.host}"} 2`);
    expect(await remainingGauge(other.host)).toBeUndefined();
  });

  it('checks the deferred images first on the next run, and finds the change it held back', async () => {
    limited.setRateLimit({ limit: 100 });
    limited.reset();
    const r = await run();
    const order = limited.log.filter((e) => e.kind === 'head').map((e) => e.path.split('/').pop());
    expect(order.slice(0, 10)).toEqual(TAGS.slice(10));
    expect(r.events.map((e) => [e.tag, e.status])).toEqual([['t19', 'update']]);
    expect(statusOf(r, limited.host).filter(([, s]) => s === 'skipped')).toEqual([]);
  });

  it('a 429 with a long Retry-After stops the registry for this run: skipped, no error, no event', async () => {
    limited.setRateLimit({ limit: 100, remaining: 0, retryAfter: 600 });
    limited.reset();
    other.reset();
    lines.length = 0;
    const r = await run();
    expect(statusOf(r, limited.host).every(([, s]) => s === 'skipped')).toBe(true);
    expect(limited.counts.head).toBe(1); // the one that got the 429; the others were never sent
    expect(other.counts.head).toBe(3);
    expect(r.events).toEqual([]);
    expect(store.state.get(`${limited.host}/rl/app:t0`, 'linux/amd64')!.error).toBeNull();
    const deferrals = lines.filter((l) => /deferring/.test(l.msg));
    expect(deferrals).toHaveLength(1);
    expect(deferrals[0]!.msg).toMatch(/rate limited \(429\), asked to wait until \S+; deferring its remaining checks \(20\) to the next run$/);
    const until = /asked to wait until (\S+);/.exec(deferrals[0]!.msg)![1]!;
    expect(Date.parse(until) - Date.now()).toBeGreaterThan(500_000);
    expect(await remainingGauge(limited.host)).toBe(`herald_registry_rate_limit_remaining{registry="${limited.host}"} 0`);
  });
});
