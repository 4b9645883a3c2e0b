/**
 * /metrics as a Prometheus server scrapes it: a Metrics fed what serve feeds it (finished and failed
 * runs, the registry client's requests, the outbox's delivery attempts), rendered to the text
 * format, and read back by metric name and labels. The outbox and image gauges come from a real
 * store on a temp-dir database.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics } from '../../../src/server/metrics.js';
import { Store } from '../../../src/store/index.js';
import type { RunReport, ImageReport, ImageRunStatus } from '../../../src/watch/report.js';
import type { ImageState } from '../../../src/model/state.js';
import type { HeraldEvent } from '../../../src/model/event.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  contentType: string;
  samples: Sample[];
  /** `# TYPE` per metric family. */
  types: Map<string, string>;
  body: string;
}

/** The text exposition format, line by line; a line that does not parse fails the test. */
async function scrape(metrics: Metrics): Promise<Scrape> {
  const { contentType, body } = await metrics.render();
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { contentType, samples, types, body };
}

/** The one sample with exactly these labels; undefined when there is none. */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = s.samples.filter((x) => x.name === name && JSON.stringify(Object.entries(x.labels).sort()) === want);
  if (found.length > 1) throw new Error(`${name} ${want}: ${found.length} samples`);
  return found[0]?.value;
}

function series(s: Scrape, name: string): Array<Record<string, string>> {
  return s.samples.filter((x) => x.name === name).map((x) => x.labels);
}

function report(durationMs: number, statuses: ImageRunStatus[]): RunReport {
  const images: ImageReport[] = statuses.map((status, i) => ({
    image: `registry.test/team/app${i}:1`, platform: 'linux/amd64', status, digest: null, previousDigest: null, error: status === 'error' ? 'boom' : null,
  }));
  return { startedAt: '2026-01-01T00:00:00.000Z', durationMs, images, events: 0 };
}

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-metrics-'));
  store = Store.open(join(dir, 'herald.db'));
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const metricsOf = (processMetrics = false) => new Metrics({ store: () => store, processMetrics });

describe('metrics: runs', () => {
  it('starts at zero, with every image check status present, in the Prometheus text format', async () => {
    const s = await scrape(metricsOf());
    expect(s.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(value(s, 'herald_runs_total')).toBe(0);
    expect(value(s, 'herald_run_failures_total')).toBe(0);
    expect(value(s, 'herald_run_duration_seconds_count')).toBe(0);
    // Present at 0 before anything happened, so rate() and alerts work from the first scrape.
    for (const status of ['new', 'update', 'unchanged', 'error', 'skipped']) expect(value(s, 'herald_image_checks_total', { status }), status).toBe(0);
    expect(s.types.get('herald_runs_total')).toBe('counter');
    expect(s.types.get('herald_image_checks_total')).toBe('counter');
    expect(s.types.get('herald_run_duration_seconds')).toBe('histogram');
    expect(s.types.get('herald_last_run_success')).toBe('gauge');
    expect(s.types.get('herald_outbox_pending')).toBe('gauge');
    // No run yet: no registry request was counted, no rate limit seen.
    expect(series(s, 'herald_registry_requests_total')).toEqual([]);
    expect(series(s, 'herald_registry_rate_limit_remaining')).toEqual([]);
  });

  it('counts a finished run: runs, duration, last run time and success, each image check by status', async () => {
    const metrics = metricsOf();
    const finishedAt = Date.UTC(2026, 0, 1, 12, 0, 0);
    metrics.runFinished(report(1_500, ['new', 'update', 'update', 'unchanged', 'unchanged', 'unchanged', 'error', 'skipped']), finishedAt);
    const s = await scrape(metrics);
    expect(value(s, 'herald_runs_total')).toBe(1);
    expect(value(s, 'herald_run_failures_total')).toBe(0);
    expect(value(s, 'herald_last_run_success')).toBe(1);
    expect(value(s, 'herald_last_run_timestamp_seconds')).toBe(finishedAt / 1000);
    expect(value(s, 'herald_image_checks_total', { status: 'new' })).toBe(1);
    expect(value(s, 'herald_image_checks_total', { status: 'update' })).toBe(2);
    expect(value(s, 'herald_image_checks_total', { status: 'unchanged' })).toBe(3);
    expect(value(s, 'herald_image_checks_total', { status: 'error' })).toBe(1);
    expect(value(s, 'herald_image_checks_total', { status: 'skipped' })).toBe(1);
    // 1.5 s, in seconds, in the buckets from 2.5 s up.
    expect(value(s, 'herald_run_duration_seconds_count')).toBe(1);
    expect(value(s, 'herald_run_duration_seconds_sum')).toBeCloseTo(1.5, 9);
    expect(value(s, 'herald_run_duration_seconds_bucket', { le: '1' })).toBe(0);
    expect(value(s, 'herald_run_duration_seconds_bucket', { le: '2.5' })).toBe(1);
    expect(value(s, 'herald_run_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
  });

  it('counts a failed run as a run and a failure, and turns last_run_success to 0 until a run succeeds', async () => {
    const metrics = metricsOf();
    metrics.runFinished(report(200, ['unchanged']), Date.UTC(2026, 0, 1, 12, 0, 0));
    const failedAt = Date.UTC(2026, 0, 1, 12, 5, 0);
    metrics.runFailed(40_000, failedAt);
    let s = await scrape(metrics);
    expect(value(s, 'herald_runs_total')).toBe(2);
    expect(value(s, 'herald_run_failures_total')).toBe(1);
    expect(value(s, 'herald_last_run_success')).toBe(0);
    expect(value(s, 'herald_last_run_timestamp_seconds')).toBe(failedAt / 1000);
    expect(value(s, 'herald_run_duration_seconds_count')).toBe(2);
    expect(value(s, 'herald_run_duration_seconds_sum')).toBeCloseTo(40.2, 9);
    expect(value(s, 'herald_run_duration_seconds_bucket', { le: '30' })).toBe(1);
    expect(value(s, 'herald_run_duration_seconds_bucket', { le: '60' })).toBe(2);
    // A failed run checked nothing that counts.
    expect(value(s, 'herald_image_checks_total', { status: 'unchanged' })).toBe(1);

    metrics.runFinished(report(100, []), Date.UTC(2026, 0, 1, 12, 10, 0));
    s = await scrape(metrics);
    expect(value(s, 'herald_last_run_success')).toBe(1);
    expect(value(s, 'herald_run_failures_total')).toBe(1);
    expect(value(s, 'herald_runs_total')).toBe(3);
  });
});

describe('metrics: registry requests', () => {
  it('counts requests by registry, kind and status, with their durations', async () => {
    const metrics = metricsOf();
    const feed = metrics.registryRequest;
    feed({ registry: 'registry.test:5000', kind: 'ping', status: 401, durationMs: 5 });
    feed({ registry: 'registry.test:5000', kind: 'head', status: 200, durationMs: 20 });
    feed({ registry: 'registry.test:5000', kind: 'head', status: 200, durationMs: 700 });
    feed({ registry: 'registry.test:5000', kind: 'manifest', status: 404, durationMs: 30 });
    feed({ registry: 'ghcr.io', kind: 'head', status: 'error', durationMs: 3_000 });
    const s = await scrape(metrics);
    expect(series(s, 'herald_registry_requests_total').map((l) => `${l.registry} ${l.kind} ${l.status}`).sort()).toEqual([
      'ghcr.io head error',
      'registry.test:5000 head 200',
      'registry.test:5000 manifest 404',
      'registry.test:5000 ping 401',
    ]);
    expect(value(s, 'herald_registry_requests_total', { registry: 'registry.test:5000', kind: 'head', status: '200' })).toBe(2);
    expect(value(s, 'herald_registry_requests_total', { registry: 'ghcr.io', kind: 'head', status: 'error' })).toBe(1);
    const head = { registry: 'registry.test:5000', kind: 'head' };
    expect(value(s, 'herald_registry_request_duration_seconds_count', head)).toBe(2);
    expect(value(s, 'herald_registry_request_duration_seconds_sum', head)).toBeCloseTo(0.72, 9);
    expect(value(s, 'herald_registry_request_duration_seconds_bucket', { ...head, le: '0.05' })).toBe(1);
    expect(value(s, 'herald_registry_request_duration_seconds_bucket', { ...head, le: '0.5' })).toBe(1);
    expect(value(s, 'herald_registry_request_duration_seconds_bucket', { ...head, le: '1' })).toBe(2);
    expect(value(s, 'herald_registry_request_duration_seconds_count', { registry: 'ghcr.io', kind: 'head' })).toBe(1);
  });

  it('counts token fetches by result: 200 is ok, any other answer or none is an error', async () => {
    const metrics = metricsOf();
    metrics.registryRequest({ registry: 'docker.io', kind: 'token', status: 200, durationMs: 80 });
    metrics.registryRequest({ registry: 'docker.io', kind: 'token', status: 200, durationMs: 80 });
    metrics.registryRequest({ registry: 'docker.io', kind: 'token', status: 401, durationMs: 80 });
    metrics.registryRequest({ registry: 'docker.io', kind: 'token', status: 'error', durationMs: 80 });
    metrics.registryRequest({ registry: 'docker.io', kind: 'head', status: 200, durationMs: 80 }); // not a token
    const s = await scrape(metrics);
    expect(value(s, 'herald_registry_token_fetches_total', { registry: 'docker.io', result: 'ok' })).toBe(2);
    expect(value(s, 'herald_registry_token_fetches_total', { registry: 'docker.io', result: 'error' })).toBe(2);
    expect(value(s, 'herald_registry_requests_total', { registry: 'docker.io', kind: 'token', status: '200' })).toBe(2);
  });

  it("shows the last RateLimit-Remaining per registry, and nothing for a registry that never sent one", async () => {
    const metrics = metricsOf();
    metrics.registryRequest({ registry: 'docker.io', kind: 'head', status: 200, durationMs: 10, rateLimitRemaining: 80 });
    metrics.registryRequest({ registry: 'docker.io', kind: 'head', status: 200, durationMs: 10, rateLimitRemaining: 79 });
    metrics.registryRequest({ registry: 'docker.io', kind: 'manifest', status: 200, durationMs: 10 }); // no header: keeps 79
    metrics.registryRequest({ registry: 'ghcr.io', kind: 'head', status: 200, durationMs: 10 });
    const s = await scrape(metrics);
    expect(value(s, 'herald_registry_rate_limit_remaining', { registry: 'docker.io' })).toBe(79);
    expect(series(s, 'herald_registry_rate_limit_remaining')).toEqual([{ registry: 'docker.io' }]);
  });
});

describe('metrics: deliveries and the outbox', () => {
  function event(id: string): HeraldEvent {
    return {
      id, status: 'update', image: 'registry.test/team/app:1', registry: 'registry.test', repository: 'team/app', tag: '1', digest: null, previousDigest: null,
      platform: 'linux/amd64', platformDigest: null, previousPlatformDigest: null, mediaType: null, created: null, labels: {}, hubLink: null, metadata: {},
      detectedAt: '2026-01-01T00:00:00.000Z', error: null,
    };
  }

  it('counts delivery attempts by notifier and outcome', async () => {
    const metrics = metricsOf();
    for (const [notifier, outcome] of [['hook', 'sent'], ['hook', 'sent'], ['hook', 'retry'], ['mail', 'failed'], ['mail', 'retry']] as const) {
      metrics.deliveryAttempt(notifier, outcome);
    }
    const s = await scrape(metrics);
    expect(value(s, 'herald_deliveries_total', { notifier: 'hook', outcome: 'sent' })).toBe(2);
    expect(value(s, 'herald_deliveries_total', { notifier: 'hook', outcome: 'retry' })).toBe(1);
    expect(value(s, 'herald_deliveries_total', { notifier: 'mail', outcome: 'failed' })).toBe(1);
    expect(value(s, 'herald_deliveries_total', { notifier: 'mail', outcome: 'retry' })).toBe(1);
    expect(value(s, 'herald_deliveries_total', { notifier: 'mail', outcome: 'sent' })).toBeUndefined();
  });

  it('reads the outbox backlog and the given-up deliveries from the database at each scrape', async () => {
    const metrics = metricsOf();
    let s = await scrape(metrics);
    expect(value(s, 'herald_outbox_pending')).toBe(0);
    expect(value(s, 'herald_outbox_failed')).toBe(0);

    store.commitRun({
      states: [],
      events: [event('e1'), event('e2'), event('e3')],
      deliveries: [
        { id: 'd1', notifier: 'hook', eventIds: ['e1'] },
        { id: 'd2', notifier: 'hook', eventIds: ['e2'] },
        { id: 'd3', notifier: 'hook', eventIds: ['e3'] },
        { id: 'd4', notifier: 'mail', eventIds: ['e1', 'e2', 'e3'] },
      ],
    });
    s = await scrape(metrics);
    expect(value(s, 'herald_outbox_pending')).toBe(4);
    expect(value(s, 'herald_outbox_failed')).toBe(0);

    store.deliveries.markSent('d1', Date.now());
    store.deliveries.markFailed('d2', 'answered 404');
    store.deliveries.markRetry('d3', Date.now() + 60_000, 'answered 503');
    s = await scrape(metrics);
    expect(value(s, 'herald_outbox_pending')).toBe(2);
    expect(value(s, 'herald_outbox_failed')).toBe(1);
  });
});

describe('metrics: images with an update', () => {
  function state(image: string, firstSeen: string, lastChanged: string | null, platform = 'linux/amd64'): ImageState {
    return {
      image, platform, digest: 'sha256:1', mediaType: null, platformDigest: null, created: null, labels: null,
      firstSeen, lastChecked: firstSeen, lastChanged, error: null, errorSince: null,
    };
  }

  it('is 1 per image and platform whose digest changed since herald first saw it, else 0, and drops removed images', async () => {
    const seen = '2026-01-01T00:00:00.000Z';
    store.commitRun({
      states: [
        state('registry.test/team/never-checked:1', seen, null),
        state('registry.test/team/same:1', seen, seen),
        state('registry.test/team/changed:1', seen, '2026-01-02T00:00:00.000Z'),
        state('registry.test/team/changed:1', seen, seen, 'linux/arm64'),
      ],
      events: [],
      deliveries: [],
    });
    const metrics = metricsOf();
    let s = await scrape(metrics);
    const available = (image: string, platform = 'linux/amd64') => value(s, 'herald_image_update_available', { image, platform });
    expect(available('registry.test/team/never-checked:1')).toBe(0);
    expect(available('registry.test/team/same:1')).toBe(0);
    expect(available('registry.test/team/changed:1')).toBe(1);
    expect(available('registry.test/team/changed:1', 'linux/arm64')).toBe(0);
    expect(series(s, 'herald_image_update_available')).toHaveLength(4);

    // `herald images remove`: its series is gone at the next scrape, not stuck at its last value.
    store.forget([{ image: 'registry.test/team/changed:1', platform: 'linux/amd64' }], []);
    s = await scrape(metrics);
    expect(available('registry.test/team/changed:1')).toBeUndefined();
    expect(series(s, 'herald_image_update_available')).toHaveLength(3);
  });
});

describe('metrics: the registry of one process', () => {
  it('has the default process metrics unless turned off, and two instances never share a figure', async () => {
    const withProcess = metricsOf(true);
    const other = metricsOf(true);
    withProcess.runFailed(10);
    const s = await scrape(withProcess);
    expect(value(s, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(value(s, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(s, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(value(s, 'herald_runs_total')).toBe(1);
    expect(value(await scrape(other), 'herald_runs_total')).toBe(0);

    const bare = await scrape(metricsOf(false));
    expect(bare.samples.filter((x) => !x.name.startsWith('herald_'))).toEqual([]);
  });
});

describe('metrics: sources', () => {
  const state = (image: string, digest: string): ImageState => ({
    image, platform: 'linux/amd64', digest, mediaType: null, platformDigest: digest, created: null, labels: null,
    firstSeen: '2026-01-01T00:00:00.000Z', lastChecked: null, lastChanged: null, error: null, errorSince: null, sources: ['local'],
  });
  const container = (source: string, name: string, image: string, runningDigest: string) => ({ source, name, id: `id-${name}`, image, platform: 'linux/amd64', runningDigest });

  it('counts outdated containers per source from the database, and whether each source could be listed', async () => {
    store.commitRun({
      states: [state('r/app:1', 'sha256:new'), state('r/db:1', 'sha256:db')],
      events: [],
      deliveries: [],
      containers: [
        { source: 'local', at: '2026-01-01T00:00:00.000Z', containers: [container('local', 'web-1', 'r/app:1', 'sha256:old'), container('local', 'web-2', 'r/app:1', 'sha256:old'), container('local', 'db', 'r/db:1', 'sha256:db')] },
        { source: 'edge', at: '2026-01-01T00:00:00.000Z', containers: [container('edge', 'web-9', 'r/app:1', 'sha256:new')] },
      ],
    });
    const metrics = metricsOf();
    const summary = (name: string, error: string | null) => ({ name, type: 'docker', error, images: 0, containers: 0, unwatched: [] });
    metrics.runFinished({ ...report(10, []), sources: [summary('local', null), summary('prod', 'source prod: the cluster refused the credentials (401 Unauthorized)')] });
    const s = await scrape(metrics);
    expect(value(s, 'herald_containers_outdated', { source: 'local' })).toBe(2);
    expect(value(s, 'herald_containers_outdated', { source: 'edge' })).toBe(0);
    expect(value(s, 'herald_source_up', { source: 'local' })).toBe(1);
    expect(value(s, 'herald_source_up', { source: 'prod' })).toBe(0);
  });
});
