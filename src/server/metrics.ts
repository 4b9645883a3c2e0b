/**
 * Prometheus metrics of one `serve` process, in a registry of its own (never prom-client's global
 * one, so nothing another module registers leaks in, and a test can make as many as it likes).
 *
 * Counters are fed by the process as things happen (runs, registry requests, delivery attempts).
 * What the database already knows (outbox backlog, which images changed) is read when scraped, so it
 * is right after a restart too and never drifts from `herald images list` / `herald events`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestEvent } from '../registry/client.js';
import type { RunReport } from '../watch/report.js';
import type { Store } from '../store/index.js';

export type DeliveryOutcome = 'sent' | 'retry' | 'failed';

export interface MetricsOptions {
  /** Read at scrape time; a getter because a reload may not replace it but tests may. */
  store: () => Store | undefined;
  /** Default process and Node.js metrics (process_cpu_seconds_total, nodejs_heap_size_used_bytes…). */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly runs: Counter;
  private readonly runFailures: Counter;
  private readonly runDuration: Histogram;
  private readonly lastRun: Gauge;
  private readonly lastSuccess: Gauge;
  private readonly checks: Counter<'status'>;
  private readonly requests: Counter<'registry' | 'kind' | 'status'>;
  private readonly requestDuration: Histogram<'registry' | 'kind'>;
  private readonly tokens: Counter<'registry' | 'result'>;
  private readonly rateLimit: Gauge<'registry'>;
  private readonly deliveries: Counter<'notifier' | 'outcome'>;
  private readonly sourceUp: Gauge<'source'>;

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    this.runs = new Counter({ name: 'herald_runs_total', help: 'Runs finished (scheduled, at startup, or from POST /api/check), failed ones included', registers });
    this.runFailures = new Counter({ name: 'herald_run_failures_total', help: 'Runs that ended with an error before committing their results', registers });
    this.runDuration = new Histogram({
      name: 'herald_run_duration_seconds',
      help: 'Duration of a run: resolving images, checking them, and committing the results',
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.lastRun = new Gauge({ name: 'herald_last_run_timestamp_seconds', help: 'Unix time the last run finished', registers });
    this.lastSuccess = new Gauge({ name: 'herald_last_run_success', help: '1 when the last run finished without an error, 0 when it failed', registers });
    this.checks = new Counter({
      name: 'herald_image_checks_total',
      help: 'Image checks by result: new, update, unchanged, error, skipped (not checked because serve was stopping)',
      labelNames: ['status'],
      registers,
    });
    for (const status of ['new', 'update', 'unchanged', 'error', 'skipped']) this.checks.inc({ status }, 0);
    this.requests = new Counter({
      name: 'herald_registry_requests_total',
      help: 'HTTP requests to registries by registry, kind (ping, token, head, manifest, blob, tags) and status code ("error": no response)',
      labelNames: ['registry', 'kind', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'herald_registry_request_duration_seconds',
      help: 'Duration of registry requests, by registry and kind',
      labelNames: ['registry', 'kind'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.tokens = new Counter({
      name: 'herald_registry_token_fetches_total',
      help: 'Bearer tokens fetched from registry token services (cached tokens are not counted), by result',
      labelNames: ['registry', 'result'],
      registers,
    });
    this.rateLimit = new Gauge({
      name: 'herald_registry_rate_limit_remaining',
      help: 'The last RateLimit-Remaining a registry sent (Docker Hub); absent until one is seen',
      labelNames: ['registry'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'herald_deliveries_total',
      help: 'Delivery attempts by notifier and outcome: sent, retry (failed, will be retried), failed (given up)',
      labelNames: ['notifier', 'outcome'],
      registers,
    });
    new Gauge({
      name: 'herald_outbox_pending',
      help: 'Deliveries waiting to be sent (the outbox backlog), from the database',
      registers,
      collect() {
        const store = opts.store();
        if (store?.isOpen) this.set(store.deliveries.counts().pending);
      },
    });
    new Gauge({
      name: 'herald_outbox_failed',
      help: 'Deliveries that were given up on, from the database',
      registers,
      collect() {
        const store = opts.store();
        if (store?.isOpen) this.set(store.deliveries.counts().failed);
      },
    });
    new Gauge<'image' | 'platform'>({
      name: 'herald_image_update_available',
      help: 'Per watched image and platform: 1 when its digest has changed since herald first saw it (an update was detected), else 0. `herald images remove` resets it',
      labelNames: ['image', 'platform'],
      registers,
      collect() {
        const store = opts.store();
        if (!store?.isOpen) return;
        this.reset();
        for (const s of store.state.all()) {
          const updated = s.lastChanged !== null && s.lastChanged !== s.firstSeen;
          this.set({ image: s.image, platform: s.platform }, updated ? 1 : 0);
        }
      },
    });
    this.sourceUp = new Gauge({
      name: 'herald_source_up',
      help: 'Per engine or cluster source: 1 when the last run could list it, 0 when it could not',
      labelNames: ['source'],
      registers,
    });
    new Gauge<'source'>({
      name: 'herald_containers_outdated',
      help: 'Per source: containers that run a digest behind their tag in the registry, from the database',
      labelNames: ['source'],
      registers,
      collect() {
        const store = opts.store();
        if (!store?.isOpen) return;
        this.reset();
        const bySource = new Map<string, number>();
        for (const image of store.imageViews()) {
          for (const c of image.containers ?? []) bySource.set(c.source, (bySource.get(c.source) ?? 0) + (c.outdated ? 1 : 0));
        }
        for (const [source, count] of bySource) this.set({ source }, count);
      },
    });
    if (opts.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** A run that committed its results. */
  runFinished(report: RunReport, finishedAt = Date.now()): void {
    this.runs.inc();
    this.runDuration.observe(report.durationMs / 1000);
    this.lastRun.set(finishedAt / 1000);
    this.lastSuccess.set(1);
    for (const image of report.images) this.checks.inc({ status: image.status });
    for (const source of report.sources ?? []) this.sourceUp.set({ source: source.name }, source.error === null ? 1 : 0);
  }

  /** A run that threw (include file unreadable, database commit failed…). */
  runFailed(durationMs: number, finishedAt = Date.now()): void {
    this.runs.inc();
    this.runFailures.inc();
    this.runDuration.observe(durationMs / 1000);
    this.lastRun.set(finishedAt / 1000);
    this.lastSuccess.set(0);
  }

  /** The registry client's onRequest. */
  registryRequest = (e: RequestEvent): void => {
    this.requests.inc({ registry: e.registry, kind: e.kind, status: String(e.status) });
    this.requestDuration.observe({ registry: e.registry, kind: e.kind }, e.durationMs / 1000);
    if (e.kind === 'token') this.tokens.inc({ registry: e.registry, result: e.status === 200 ? 'ok' : 'error' });
    if (e.rateLimitRemaining !== undefined) this.rateLimit.set({ registry: e.registry }, e.rateLimitRemaining);
  };

  /** The outbox's onAttempt. */
  deliveryAttempt = (notifier: string, outcome: DeliveryOutcome): void => {
    this.deliveries.inc({ notifier, outcome });
  };

  /** The text exposition format and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
