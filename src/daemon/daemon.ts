/**
 * The daemon `herald serve` runs: runs on the schedule, keeps draining the outbox between runs,
 * serves HTTP (health, metrics, API) when server.listen is set, reloads the config on request
 * (keeping the running one when the new one is bad), and stops within the shutdown budget.
 *
 * Everything it depends on from outside comes in through DaemonOptions (where the config comes
 * from, the logger, the clock), so tests drive it in-process; signals are the CLI's (signals.ts).
 * What changes while it runs (the config in force, the scheduler, the HTTP server) lives in one
 * object, `live`, that reload() updates and stop() takes down.
 */
import { runOnce, type RunOptions } from '../watch/run.js';
import { oneImageRun } from '../watch/one.js';
import { Scheduler } from '../watch/scheduler.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../util/log.js';
import type { Outbox } from '../notify/outbox.js';
import type { Metrics } from '../server/metrics.js';
import { health, MIN_FREE_BYTES, type RunHistory } from '../server/health.js';
import type { ServerContext } from '../server/http.js';
import { HttpEndpoint } from './endpoint.js';
import { Parts } from './parts.js';
import { WatchList } from './watched.js';

/** Whole shutdown budget (orchestrators send SIGKILL 10 s after SIGTERM by default): in-flight checks get part of it, the last delivery pass the rest. */
export const SHUTDOWN_MS = 9_000;
export const CHECKS_GRACE_MS = 4_000;
/** A reload lets the old outbox finish what it is sending for this long before its notifiers are replaced. */
const RELOAD_FLUSH_MS = 2_000;
/** After the last delivery pass, closing connections may take this long before the store closes anyway. */
const CLOSE_MS = 500;

export interface DaemonOptions {
  /** Reads the config, at start and at every reload (serve: the file it found at start-up). */
  loadConfig: () => Promise<LoadedConfig>;
  logger: Logger;
  /**
   * The time runs are stamped with (states, events, run history, health). Timers, deadlines and the
   * outbox's retry times stay on the system clock, which is what the store writes delivery times with.
   */
  now?: () => Date;
}

export type ReloadOutcome = 'reloaded' | 'rejected' | 'skipped';

/** What a started daemon holds; reload() swaps its config and scheduler, and moves its server. */
interface Live {
  loaded: LoadedConfig;
  parts: Parts & { readonly metrics: Metrics };
  scheduler: Scheduler;
  http: HttpEndpoint;
}

export class Daemon {
  private phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private live: Live | undefined;
  private starting: Promise<void> | undefined;
  private reloading: Promise<ReloadOutcome> | undefined;
  private stopping: Promise<void> | undefined;
  /** Survives reloads (the scheduler does not): /healthz reads it. */
  private readonly runs: RunHistory = { startedAt: undefined, finishedAt: undefined, error: undefined, running: false, count: 0 };
  /** /api/images' watch list: the last run's images, the config's before a run. */
  private readonly watchList = new WatchList();
  private readonly now: () => Date;
  private readonly logger: Logger;
  private endWith!: (shutdown: Promise<void>) => void;
  /** Settles when stop() has finished (rejects only on a bug in the shutdown). */
  readonly stopped: Promise<void>;

  constructor(private readonly opts: DaemonOptions) {
    this.now = opts.now ?? (() => new Date());
    this.logger = opts.logger;
    this.stopped = new Promise<void>((resolve) => {
      this.endWith = resolve;
    });
    // Whoever asked for the stop sees its failure; `stopped` must not also be an unhandled rejection.
    this.stopped.catch(() => undefined);
  }

  /** host:port the HTTP server is bound to, when it is listening. */
  get address(): string | undefined {
    return this.live?.http.address;
  }

  /** Loads the config, opens the parts and the HTTP server, starts the outbox and the scheduler. Throws a ConfigError (exit 2) for a config serve cannot run. */
  start(): Promise<void> {
    if (this.phase !== 'new') return Promise.reject(new Error(`start() of a daemon that is ${this.phase}`));
    this.phase = 'starting';
    this.starting = this.open().catch((err: unknown) => {
      this.phase = 'stopped';
      throw err;
    });
    return this.starting;
  }

  private async open(): Promise<void> {
    const loaded = await this.opts.loadConfig();
    requireSchedule(loaded);
    const parts = await Parts.open(loaded, { writer: 'serve', logger: this.logger, metrics: true });
    await this.watchList.fromConfig(loaded);
    const live: Live = { loaded, parts, scheduler: this.schedulerFor(loaded), http: new HttpEndpoint(this.serverContext(parts), this.logger) };
    // Set before the server listens: a POST /api/check may come as soon as it does.
    this.live = live;
    try {
      await live.http.open(loaded.config.server.listen);
    } catch (err) {
      this.live = undefined;
      await parts.close(CLOSE_MS);
      throw err;
    }
    this.phase = 'running';
    this.logger.info({ config: loaded.file, db: loaded.config.db.path, pid: process.pid, http: live.http.address ?? null }, 'herald serve started');
    parts.outbox.start();
    live.scheduler.start();
    // A stop asked for during start-up comes next; a run now would only be abandoned.
    if (loaded.config.watch.runOnStartup && this.stopping === undefined) void live.scheduler.trigger('startup');
  }

  /**
   * Loads the config again and puts it in force. A config that fails to load, lacks a schedule,
   * names a notifier that cannot be built or a server.listen that cannot be opened is rejected with
   * one log line, and the running config stays. Asked during start-up, it reloads once started
   * (the file may have changed after it was read); during another reload or a stop it is skipped.
   */
  async reload(): Promise<ReloadOutcome> {
    if (this.phase === 'starting') await this.starting?.catch(() => undefined);
    if (this.phase !== 'running' || this.stopping !== undefined || this.reloading !== undefined) return 'skipped';
    this.reloading = this.swapConfig(this.current).finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async swapConfig(live: Live): Promise<ReloadOutcome> {
    let outbox: Outbox | undefined;
    try {
      const next = await this.opts.loadConfig();
      requireSchedule(next);
      // A stop came while the file was read: leave everything as it is for the stop to take down.
      if (this.phase !== 'running') return 'skipped';
      outbox = live.parts.outboxFor(next);
      await live.http.move(live.loaded.config.server.listen, next.config.server.listen);
      await live.scheduler.stop(CHECKS_GRACE_MS);
      await live.parts.outbox.stop(Date.now() + RELOAD_FLUSH_MS);
      const incoming = outbox;
      outbox = undefined; // the parts' to close from now on
      await live.parts.use(next, incoming);
      live.loaded = next;
      await this.watchList.fromConfig(next);
      live.parts.outbox.start();
      live.scheduler = this.schedulerFor(next);
      live.scheduler.start();
      this.logger.info({ config: next.file }, 'config reloaded');
      return 'reloaded';
    } catch (err) {
      await outbox?.close();
      this.logger.error(`config reload rejected, keeping the running config: ${errorMessage(err)}`);
      return 'rejected';
    }
  }

  /**
   * Stops within SHUTDOWN_MS: no new API requests, in-flight checks get CHECKS_GRACE_MS (then are
   * abandoned, which is safe: a run writes nothing until its single commit), one last delivery pass
   * with the rest, then everything closes, the store last. Asked during start-up, it stops once
   * start-up is done; asked again, it returns the same stop. `reason` is logged (the signal).
   */
  stop(reason: string): Promise<void> {
    if (this.stopping === undefined) {
      this.stopping = this.shutdown(reason);
      this.stopping.catch(() => undefined);
      this.endWith(this.stopping);
    }
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    if (this.phase === 'starting') await this.starting?.catch(() => undefined);
    const live = this.live;
    if (live === undefined) {
      // Never started, or start-up failed and closed what it had opened.
      this.phase = 'stopped';
      return;
    }
    this.phase = 'stopping';
    const deadline = Date.now() + SHUTDOWN_MS;
    this.logger.info({ signal: reason }, 'stopping');
    // A reload under way is bounded (grace and flush above); what it put in force is what stops.
    await this.reloading;
    try {
      // No new API requests (a POST /api/check now would start a run about to be abandoned).
      await live.http.close();
      const outcome = await live.scheduler.stop(Math.max(0, Math.min(CHECKS_GRACE_MS, deadline - Date.now())));
      if (outcome === 'abandoned') this.logger.warn('in-flight run abandoned; its changes will be found again by the next run');
      const flushed = await live.parts.outbox.stop(deadline);
      const { pending } = live.parts.store.deliveries.counts();
      if (flushed === undefined || pending > 0) this.logger.info({ pending }, 'deliveries left pending for the next start');
    } finally {
      await live.parts.close(CLOSE_MS);
      this.phase = 'stopped';
    }
    this.logger.info('stopped');
  }

  /** One run, as the scheduler starts it (of one image: POST /api/check?image=); recorded for /healthz and /metrics. */
  private async run(signal: AbortSignal, image?: string): Promise<void> {
    const { current: live, runs } = this;
    runs.running = true;
    runs.startedAt = this.now();
    const t0 = performance.now();
    try {
      const one: RunOptions = image === undefined ? {} : (await oneImageRun(live.loaded, live.parts.sources, this.logger, image, signal)).options;
      const result = await runOnce(
        { loaded: live.loaded, store: live.parts.store, client: live.parts.client, sources: live.parts.sources, logger: this.logger },
        { ...one, signal, now: this.now },
      );
      const { report, events } = result;
      this.watchList.fromRun(result, image === undefined);
      runs.sourceErrors = report.sources?.flatMap((s) => (s.error !== null ? [s.error] : []));
      runs.error = undefined;
      live.parts.metrics.runFinished(report, this.now().getTime());
      if (image !== undefined) this.logger.info({ image, checks: report.images.length }, 'one image checked on request');
      // Read after the run: a reload meanwhile may have put another outbox in place.
      if (events.length > 0) live.parts.outbox.wake();
    } catch (err) {
      runs.error = errorMessage(err);
      live.parts.metrics.runFailed(performance.now() - t0, this.now().getTime());
      throw err;
    } finally {
      runs.running = false;
      runs.finishedAt = this.now();
      runs.count++;
    }
  }

  private schedulerFor(loaded: LoadedConfig): Scheduler {
    const { watch } = loaded.config;
    return new Scheduler({ schedule: watch.schedule!, timezone: watch.timezone, jitterMs: watch.jitter, logger: this.logger, run: (signal, image) => this.run(signal, image) });
  }

  /** The scheduler and the HTTP server only call in once the daemon is started. */
  private get current(): Live {
    if (this.live === undefined) throw new Error('the daemon is not started');
    return this.live;
  }

  /** What the HTTP server asks the daemon; everything but the parts is read per request, so it follows reloads. */
  private serverContext(parts: Live['parts']): ServerContext {
    return {
      store: parts.store,
      metrics: parts.metrics,
      logger: this.logger,
      token: () => this.current.loaded.config.server.token,
      ui: () => this.current.loaded.config.server.ui !== false,
      watched: () => this.watchList.entries(),
      health: () =>
        health({
          databaseProblem: parts.store.writeProblem(MIN_FREE_BYTES),
          // A reload stops the scheduler for a moment; that is not "not running".
          nextRun: this.reloading !== undefined ? this.now() : this.current.scheduler.nextRun,
          stopping: this.phase === 'stopping' || this.phase === 'stopped',
          runs: this.runs,
          now: this.now(),
        }),
      triggerRun: (image) => {
        if (this.phase === 'stopping' || this.phase === 'stopped') return 'stopping';
        const { scheduler } = this.current;
        if (this.reloading !== undefined || scheduler.running) return 'running';
        this.logger.info(image === undefined ? {} : { image }, image === undefined ? 'run requested through the API' : 'check of one image requested through the API');
        void scheduler.trigger('api', image);
        return 'started';
      },
    };
  }
}

/** serve needs a schedule; check does not, so the schema cannot require it. */
export function requireSchedule(loaded: LoadedConfig): void {
  if (!loaded.config.watch.schedule) {
    const where = loaded.locate(['watch']);
    throw new ConfigError(`${where}: watch.schedule: required by serve (e.g. "0 */6 * * *"); use "herald check" for a single run`);
  }
}
