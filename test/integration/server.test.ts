/**
 * `herald serve` with server.listen, as an operator uses it: the real CLI as a child process, a real
 * registry (behind a proxy that can slow it down), a webhook receiver, and plain HTTP requests like
 * `curl` would make. Checks /healthz, /metrics, the API, the bearer token, reloads and SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import Database from '../../src/store/driver.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { herald, killServes, spawnServe, tempDir, until, writeConfig, type Serve } from './helpers.js';
import { freePort } from '../../fixtures/ports.js';

const TOKEN = 'tok-3f9c1e7a-never-shown-anywhere';
const NEW_TOKEN = 'tok-second-0b7d44e2-also-secret';

let registry: TestRegistry;
let proxy: CountingProxy;
let sink: HttpSink;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.url);
  sink = await startHttpSink();
});
afterAll(async () => {
  await sink?.close();
  await proxy?.stop();
  await registry?.stop();
});

/** Every answer the tests saw, headers and body, to check no secret was ever in one. */
const seen: string[] = [];

async function call(base: string, path: string, opts: { method?: string; token?: string } = {}): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const headers: Record<string, string> = {};
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(`${base}${path}`, { method: opts.method ?? 'GET', headers, signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  seen.push(JSON.stringify([...res.headers]), text);
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Prometheus text format → { 'name{a="b"}': value }, label sets as written by prom-client. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`bad metrics line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function metric(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const [key, value] of metrics) {
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return value;
  }
  return undefined;
}

describe('herald serve with server.listen', () => {
  const repo = 'team/web';
  const image = () => `${proxy.host}/${repo}:1`;
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let dbPath: string;
  let base: string;
  let port: number;
  let serve: Serve;

  beforeAll(async () => {
    await registry.pushImage(repo, '1', { seed: 'web-v1' });
    tmp = tempDir();
    dbPath = join(tmp.dir, 'data', 'herald.db');
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(tmp.dir, 'api-token'), `${TOKEN}\n`);
    file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${dbPath} }`,
        // No run at start and none scheduled soon: runs happen when the test asks (POST /api/check).
        'watch: { schedule: "0 0 1 1 *", runOnStartup: false, jitter: 0 }',
        'registries:',
        '  - name: local',
        `    host: "${proxy.host}"`,
        '    insecure: true',
        '    timeout: 5s',
        'images:',
        `  - name: ${image()}`,
        'notifiers:',
        '  - name: hook',
        '    type: webhook',
        `    url: ${sink.url}/hook`,
        'server:',
        `  listen: 127.0.0.1:${port}`,
        '  tokenFile: ./api-token',
        '',
      ].join('\n'),
    );
    serve = await spawnServe(file, { env: { HERALD_LOG_LEVEL: 'debug' } });
  });

  afterAll(async () => {
    await killServes();
    tmp?.cleanup();
  });

  it('says "starting" (200) on /healthz before the first run has finished', async () => {
    const r = await call(base, '/healthz');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json()).toMatchObject({ status: 'starting', reasons: [], checks: { scheduler: 'ok', database: 'ok', lastRun: 'no run yet' }, lastRunFinishedAt: null });
    expect(Date.parse(r.json().nextRunAt)).toBeGreaterThan(Date.now());
  });

  it('guards /metrics and /api with the bearer token, but not /healthz', async () => {
    for (const path of ['/metrics', '/api/images', '/api/events']) {
      const none = await call(base, path);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await call(base, path, { token: 'wrong' })).status, path).toBe(401);
      expect((await call(base, path, { token: `${TOKEN}x` })).status, path).toBe(401);
      expect((await call(base, path, { token: TOKEN })).status, path).toBe(200);
    }
    expect((await call(base, '/api/check', { method: 'POST' })).status).toBe(401);
    expect((await call(base, '/healthz')).status).toBe(200);
  });

  it('POST /api/check runs now: 202, the run is logged and counted, /healthz turns ok, the images and metrics show it', async () => {
    const before = parseMetrics((await call(base, '/metrics', { token: TOKEN })).text);
    expect(metric(before, 'herald_runs_total')).toBe(0);

    const r = await call(base, '/api/check', { method: 'POST', token: TOKEN });
    expect(r.status).toBe(202);
    expect(r.json()).toMatchObject({ status: 'accepted' });
    await until(() => /run finished/.test(serve.output()), { what: 'run finished' });

    const h = await call(base, '/healthz');
    expect(h.status).toBe(200);
    expect(h.json()).toMatchObject({ status: 'ok', reasons: [], checks: { scheduler: 'ok', database: 'ok', lastRun: 'ok' } });
    expect(Date.parse(h.json().lastRunFinishedAt)).toBeGreaterThan(Date.now() - 60_000);

    const images = (await call(base, '/api/images', { token: TOKEN })).json();
    const pushed = await registry.pushImage(repo, '1', { seed: 'web-v1' }); // same content: same digest
    expect(images).toEqual([expect.objectContaining({ image: image(), platform: 'linux/amd64', digest: pushed.digest, error: null })]);

    const m = parseMetrics((await call(base, '/metrics', { token: TOKEN })).text);
    expect(metric(m, 'herald_runs_total')).toBe(1);
    expect(metric(m, 'herald_run_failures_total')).toBe(0);
    expect(metric(m, 'herald_image_checks_total', { status: 'new' })).toBe(1);
    expect(metric(m, 'herald_image_checks_total', { status: 'update' })).toBe(0);
    expect(metric(m, 'herald_run_duration_seconds_count')).toBe(1);
    expect(metric(m, 'herald_last_run_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    // First contact with the registry: a ping, then the HEAD, then the GETs of a first check.
    expect(metric(m, 'herald_registry_requests_total', { registry: proxy.host, kind: 'ping', status: '200' })).toBe(1);
    expect(metric(m, 'herald_registry_requests_total', { registry: proxy.host, kind: 'head', status: '200' })).toBe(1);
    expect(metric(m, 'herald_registry_request_duration_seconds_count', { registry: proxy.host, kind: 'head' })).toBe(1);
    expect(metric(m, 'herald_image_update_available', { image: image() })).toBe(0);
    expect(metric(m, 'herald_outbox_pending')).toBe(0);
    // The default process metrics are there too.
    expect(metric(m, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metric(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metric(m, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('an update found through the API is delivered, and shows in /api/events and /metrics', async () => {
    const pushed = await registry.pushImage(repo, '1', { seed: 'web-v2' });
    const runs = serve.count(/run finished/);
    expect((await call(base, '/api/check', { method: 'POST', token: TOKEN })).status).toBe(202);
    await until(() => serve.count(/run finished/) > runs, { what: 'the second run' });
    await until(() => sink.requests.length === 1, { what: 'the webhook delivery' });
    await until(() => /notification sent/.test(serve.output()), { what: 'the delivery to be recorded' });

    const events = (await call(base, '/api/events?limit=5', { token: TOKEN })).json();
    // Newest first: the update, then the first sighting (stored, but not notified: firstCheckNotify is off).
    expect(events.map((e: { status: string }) => e.status)).toEqual(['update', 'new']);
    expect(events[0]).toMatchObject({ image: image(), digest: pushed.digest });
    expect(events[0].deliveries).toEqual([expect.objectContaining({ notifier: 'hook', status: 'sent', attempts: 1 })]);
    expect(events[1].deliveries).toEqual([]);
    expect((await call(base, '/api/events?limit=1', { token: TOKEN })).json()).toHaveLength(1);
    expect((await call(base, '/api/events?limit=0', { token: TOKEN })).status).toBe(400);
    expect((await call(base, '/api/events?limit=abc', { token: TOKEN })).status).toBe(400);

    const m = parseMetrics((await call(base, '/metrics', { token: TOKEN })).text);
    expect(metric(m, 'herald_runs_total')).toBe(2);
    expect(metric(m, 'herald_image_checks_total', { status: 'update' })).toBe(1);
    expect(metric(m, 'herald_image_update_available', { image: image(), platform: 'linux/amd64' })).toBe(1);
    expect(metric(m, 'herald_deliveries_total', { notifier: 'hook', outcome: 'sent' })).toBe(1);
    expect(metric(m, 'herald_outbox_pending')).toBe(0);
  });

  it("shows a registry's RateLimit-Remaining (Docker Hub's header) on /metrics", async () => {
    const scrape = async () => parseMetrics((await call(base, '/metrics', { token: TOKEN })).text);
    expect(metric(await scrape(), 'herald_registry_rate_limit_remaining', { registry: proxy.host })).toBeUndefined();
    proxy.setRateLimit({ limit: 100, remaining: 80 });
    try {
      const runs = serve.count(/run finished/);
      expect((await call(base, '/api/check', { method: 'POST', token: TOKEN })).status).toBe(202);
      await until(() => serve.count(/run finished/) > runs, { what: 'the run' });
      const left = proxy.rateLimitRemaining()!;
      expect(left).toBeLessThan(80); // the run spent some of it
      expect(metric(await scrape(), 'herald_registry_rate_limit_remaining', { registry: proxy.host })).toBe(left);
    } finally {
      proxy.setRateLimit(undefined);
    }
  });

  it('answers 409 to POST /api/check while a run is going', async () => {
    proxy.setDelay(1500);
    try {
      const runs = serve.count(/run finished/);
      expect((await call(base, '/api/check', { method: 'POST', token: TOKEN })).status).toBe(202);
      const busy = await call(base, '/api/check', { method: 'POST', token: TOKEN });
      expect(busy.status).toBe(409);
      expect(busy.json()).toEqual({ error: 'a run is already in progress' });
      await until(() => serve.count(/run finished/) > runs, { what: 'the slow run' });
    } finally {
      proxy.setDelay(0);
    }
  });

  it('is unhealthy (503, with the reason) while another process holds the database write lock, and healthy again after', async () => {
    const other = new Database(dbPath);
    try {
      other.exec('BEGIN IMMEDIATE');
      const locked = await call(base, '/healthz');
      expect(locked.status).toBe(503);
      expect(locked.json()).toMatchObject({ status: 'unhealthy', checks: { database: expect.stringMatching(/locked/) } });
      expect(locked.json().reasons).toEqual([expect.stringMatching(/^database: locked/)]);
      // `herald health` (the image's HEALTHCHECK) says the same, with exit 1.
      const cli = await herald(['health', '-c', file]);
      expect(cli.code).toBe(1);
      expect(JSON.parse(cli.stdout).status).toBe('unhealthy');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect((await call(base, '/healthz')).status).toBe(200);
    const cli = await herald(['health', '-c', file]);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).status).toBe('ok');
  });

  it('answers 404 for unknown paths and 405 with Allow for wrong methods, in JSON', async () => {
    const missing = await call(base, '/nope', { token: TOKEN });
    expect(missing.status).toBe(404);
    expect(missing.json().error).toMatch(/no such endpoint/);
    const wrong = await call(base, '/api/check', { method: 'GET', token: TOKEN });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    const wrong2 = await call(base, '/healthz', { method: 'POST' });
    expect(wrong2.status).toBe(405);
    expect(wrong2.headers.get('allow')).toBe('GET, HEAD');
    const head = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
  });

  it('follows a reload of the server keys: a new token and a new port; a bad reload keeps both', async () => {
    const newPort = await freePort();
    const newBase = `http://127.0.0.1:${newPort}`;
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace(`listen: 127.0.0.1:${port}`, `listen: 127.0.0.1:${newPort}`).replace('  tokenFile: ./api-token', `  token: ${NEW_TOKEN}`));
    serve.child.kill('SIGHUP');
    await until(() => /config reloaded/.test(serve.output()), { what: 'the reload' });
    expect((await call(newBase, '/api/images', { token: NEW_TOKEN })).status).toBe(200);
    expect((await call(newBase, '/api/images', { token: TOKEN })).status).toBe(401);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();

    // A broken config is rejected: the server keeps its port and token.
    writeFileSync(file, original.replace(`listen: 127.0.0.1:${port}`, 'listen: nonsense'));
    serve.child.kill('SIGHUP');
    await until(() => /config reload rejected/.test(serve.output()), { what: 'the rejection' });
    expect(serve.output()).toMatch(/server\.listen/);
    expect((await call(newBase, '/api/images', { token: NEW_TOKEN })).status).toBe(200);
    base = newBase;
  });

  it('stops on SIGTERM with exit 0 within 10 s, closing the port; no token ever showed in a response or the log', async () => {
    const started = Date.now();
    expect((await serve.stop()).code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    expect(serve.output()).toMatch(/"msg":"stopped"/);

    const everything = [...seen, serve.output()].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(NEW_TOKEN);
    expect(seen.length).toBeGreaterThan(30);
  });
});

describe('herald serve start-up with server.listen', () => {
  it('fails with exit 2 and one line naming server.listen when the address is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    const tmp = tempDir();
    try {
      const file = writeConfig(tmp.dir, [`db: { path: ${join(tmp.dir, 'h.db')} }`, 'watch: { schedule: "0 0 1 1 *", runOnStartup: false }', `server: { listen: "127.0.0.1:${port}" }`].join('\n'));
      const r = await herald(['serve', '-c', file]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([`herald: server.listen: cannot listen on 127.0.0.1:${port}: address already in use`]);
    } finally {
      blocker.close();
      tmp.cleanup();
    }
  });

  it('`herald health` explains when the config has no server.listen', async () => {
    const tmp = tempDir();
    try {
      const file = writeConfig(tmp.dir, `db: { path: ${join(tmp.dir, 'h.db')} }\n`);
      const r = await herald(['health', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/server\.listen is not set/);
    } finally {
      tmp.cleanup();
    }
  });
});
