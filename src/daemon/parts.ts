/**
 * The parts a run and its notifications need, wired one way for `check` and `serve`: the store
 * (with the writer lock, so two processes never check and notify twice), one registry client, the
 * engine and cluster sources, the configured notifiers behind the outbox, and, for serve, the
 * metrics the client and outbox feed.
 *
 * close() takes them down in the order that loses nothing: the senders and connections first (an
 * outbox may still record an attempt in the store), the store and its lock last.
 */
import type { Logger } from '../util/log.js';
import type { LoadedConfig } from '../config/load.js';
import type { Metrics } from '../server/metrics.js';
import { Store } from '../store/index.js';
import { RegistryClient } from '../registry/client.js';
import { Outbox } from '../notify/outbox.js';
import { createNotifier } from '../notify/notifiers/index.js';
import { closeHttpAgent } from '../notify/http.js';
import { sleep } from '../util/sleep.js';
import { createSource } from '../sources/index.js';
import type { ImageSource } from '../sources/source.js';

export interface PartsOptions {
  /** The command that takes the writer lock; a second writer's refusal names it. */
  writer: 'serve' | 'check';
  logger: Logger;
  /** serve: Prometheus metrics (check never loads prom-client). */
  metrics?: boolean;
}

export class Parts {
  private currentClient: RegistryClient;
  private currentOutbox: Outbox;
  /** The registries the client was built for: a reload keeps the client (its tokens, its connections) unless they change. */
  private registries: string;
  private currentSources: ImageSource[];
  /** The `sources:` the sources were built for: kept across a reload (their caches) unless changed. */
  private sourcesConfig: string;
  private closed = false;

  private constructor(
    loaded: LoadedConfig,
    readonly store: Store,
    readonly metrics: Metrics | undefined,
    private readonly logger: Logger,
  ) {
    this.currentClient = this.clientFor(loaded);
    this.registries = JSON.stringify(loaded.config.registries);
    this.currentSources = this.sourcesFor(loaded);
    this.sourcesConfig = JSON.stringify(loaded.config.sources);
    this.currentOutbox = this.outboxFor(loaded);
  }

  static open(loaded: LoadedConfig, opts: PartsOptions & { metrics: true }): Promise<Parts & { readonly metrics: Metrics }>;
  static open(loaded: LoadedConfig, opts: PartsOptions): Promise<Parts>;
  static async open(loaded: LoadedConfig, opts: PartsOptions): Promise<Parts> {
    const store = Store.open(loaded.config.db.path, { writer: opts.writer });
    try {
      const metrics = opts.metrics === true ? new (await import('../server/metrics.js')).Metrics({ store: () => store }) : undefined;
      return new Parts(loaded, store, metrics, opts.logger);
    } catch (err) {
      // Building a notifier can fail (a file it needs); the lock must not outlive this.
      store.close();
      throw err;
    }
  }

  /** One client for the life of the parts (until the registries change): its token cache and keep-alive connections are what make an unchanged image cost one HEAD. */
  get client(): RegistryClient {
    return this.currentClient;
  }

  /** The engine and cluster sources; building them calls no engine. */
  get sources(): readonly ImageSource[] {
    return this.currentSources;
  }

  get outbox(): Outbox {
    return this.currentOutbox;
  }

  /** An outbox for this config's notifiers, not started and not yet in use (a reload builds it before it changes anything). */
  outboxFor(loaded: LoadedConfig): Outbox {
    const { logger, metrics } = this;
    const notifiers = loaded.config.notifiers.map((n) => createNotifier(n, { logger }));
    return new Outbox({ store: this.store, notifiers, retry: loaded.config.notify.retry, logger, ...(metrics ? { onAttempt: metrics.deliveryAttempt } : {}) });
  }

  /**
   * Puts `loaded` in force: `outbox` (from outboxFor) replaces the current one, which the caller has
   * stopped, and a new client replaces the current one when the registries changed. Never throws: a
   * reload that got this far has stopped the scheduler, and must get to starting it again.
   */
  async use(loaded: LoadedConfig, outbox: Outbox): Promise<void> {
    const previous = this.currentOutbox;
    this.currentOutbox = outbox;
    await previous.close();
    const registries = JSON.stringify(loaded.config.registries);
    if (registries !== this.registries) {
      const old = this.currentClient;
      this.currentClient = this.clientFor(loaded);
      this.registries = registries;
      await old.close().catch((err: unknown) => this.logger.warn({ err }, 'closing the previous registry client failed'));
    }
    const sources = JSON.stringify(loaded.config.sources);
    if (sources !== this.sourcesConfig) {
      const old = this.currentSources;
      this.currentSources = this.sourcesFor(loaded);
      this.sourcesConfig = sources;
      await Promise.all(old.map((s) => s.close())).catch((err: unknown) => this.logger.warn({ err }, 'closing the previous sources failed'));
    }
  }

  /**
   * Closes everything, the store last. `withinMs` bounds the wait for the network side (a receiver
   * or registry that does not let go must not hold serve's exit); the store closes either way.
   */
  async close(withinMs?: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      const network = Promise.all([this.currentOutbox.close(), closeHttpAgent(), this.currentClient.close(), ...this.currentSources.map((s) => s.close())]);
      if (withinMs === undefined) {
        await network;
      } else {
        const timer = new AbortController();
        await Promise.race([network, sleep(withinMs, timer.signal)]).catch(() => undefined);
        timer.abort();
      }
    } finally {
      this.store.close();
    }
  }

  private sourcesFor(loaded: LoadedConfig): ImageSource[] {
    return loaded.config.sources.map((config) => createSource(config, { logger: this.logger, dir: loaded.dir }));
  }

  private clientFor(loaded: LoadedConfig): RegistryClient {
    return new RegistryClient({
      registries: loaded.config.registries,
      logger: this.logger,
      challenges: this.store.challenges,
      ...(this.metrics ? { onRequest: this.metrics.registryRequest } : {}),
    });
  }
}
