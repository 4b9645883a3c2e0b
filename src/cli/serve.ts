/**
 * `herald serve`: the daemon. Runs on the schedule, keeps draining the outbox between runs, serves
 * HTTP (health, metrics, API) when server.listen is set, reloads the config on SIGHUP (keeping the
 * running one when the new one is bad), and stops cleanly on SIGTERM/SIGINT with exit 0.
 *
 * It also runs as PID 1 in the container image: the kernel gives PID 1 no default action for
 * SIGTERM, so the handlers below are what makes `docker stop` work. They are installed first thing,
 * so a stop asked for during start-up is honoured as soon as start-up is done.
 */
import { RegistryClient } from '../registry/client.js';
import { runOnce } from '../watch/run.js';
import { Scheduler, sleep } from '../watch/scheduler.js';
import { ConfigError, errorMessage } from '../util/errors.js';
import { findConfigFile, loadConfig, type LoadedConfig } from '../config/load.js';
import type { Dispatcher } from '../notify/outbox.js';
import { closeHttpAgent } from '../notify/http.js';
import type { Logger } from '../util/log.js';
import { Metrics } from '../server/metrics.js';
import { health, MIN_FREE_BYTES, type RunHistory } from '../server/health.js';
import { ListenError, startServer, type HeraldServer, type ServerContext } from '../server/http.js';
import { loggerFor, openDispatcher, openStore, optionsOf } from './context.js';

/** Whole shutdown budget: in-flight checks get part of it, the last delivery pass the rest. */
const SHUTDOWN_MS = 9_000;
const CHECKS_GRACE_MS = 4_000;

export async function serve(...args: unknown[]): Promise<number> {
  let stopAsked: string | undefined;
  const early = (signal: NodeJS.Signals): void => {
    stopAsked ??= signal;
  };
  process.on('SIGTERM', early);
  process.on('SIGINT', early);
  try {
    return await daemon(args, () => stopAsked);
  } finally {
    process.off('SIGTERM', early);
    process.off('SIGINT', early);
  }
}

async function daemon(args: unknown[], stopAskedEarly: () => string | undefined): Promise<number> {
  const opts = optionsOf(args);
  const logger = loggerFor(opts);
  const file = findConfigFile(opts.config);
  let loaded = await loadConfig(file);
  requireSchedule(loaded);
  const store = openStore(loaded, 'serve');
  const metrics = new Metrics({ store: () => store });
  // One client for the life of the process (until a reload changes the registries): its token
  // cache and keep-alive connections are what make an unchanged image cost one HEAD.
  let client = newClient(loaded, logger, metrics);
  let dispatcher: Dispatcher = await openDispatcher(loaded, store, logger, metrics.deliveryAttempt);
  const runs: RunHistory = { startedAt: undefined, finishedAt: undefined, error: undefined, running: false, count: 0 };

  const runNow = async (signal: AbortSignal): Promise<void> => {
    runs.running = true;
    runs.startedAt = new Date();
    const t0 = performance.now();
    try {
      const { report, events } = await runOnce({ loaded, store, client, logger }, { signal });
      runs.error = undefined;
      metrics.runFinished(report);
      if (events.length > 0) dispatcher.wake();
    } catch (err) {
      runs.error = errorMessage(err);
      metrics.runFailed(performance.now() - t0);
      throw err;
    } finally {
      runs.running = false;
      runs.finishedAt = new Date();
      runs.count++;
    }
  };

  let scheduler = makeScheduler(loaded, runNow, logger);
  let stopping = false;
  let reloading = false;
  const serverContext: ServerContext = {
    store,
    metrics,
    logger,
    token: () => loaded.config.server.token,
    health: () => health({ databaseProblem: store.writeProblem(MIN_FREE_BYTES), nextRun: reloading ? new Date() : scheduler.nextRun, stopping, runs }),
    triggerRun: () => {
      if (stopping) return 'stopping';
      if (reloading || scheduler.running) return 'running';
      logger.info('run requested through the API');
      void scheduler.trigger('api');
      return 'started';
    },
  };
  let server: HeraldServer | undefined;
  try {
    server = await listen(loaded.config.server.listen, serverContext);
  } catch (err) {
    await Promise.all([dispatcher.close(), client.close()]).catch(() => undefined);
    store.close();
    throw err;
  }

  logger.info({ config: loaded.file, db: loaded.config.db.path, pid: process.pid, http: server?.address ?? null }, 'herald serve started');
  dispatcher.start();
  scheduler.start();
  if (loaded.config.watch.runOnStartup) void scheduler.trigger('startup');

  /**
   * A reload that changes server.listen moves the server: the old socket is closed, then the new one
   * opened (both may use the same port on different addresses). If the new one cannot be opened, the
   * old one is opened again and the reload is rejected. A token change needs nothing: the token is
   * read per request.
   */
  const followListen = async (before: string | undefined, after: string | undefined): Promise<void> => {
    if (before === after) return;
    await server?.close();
    server = undefined;
    try {
      server = await listen(after, serverContext);
    } catch (err) {
      server = await listen(before, serverContext).catch((again: unknown) => {
        logger.error(`HTTP server stays off until a reload or restart: ${errorMessage(again)}`);
        return undefined;
      });
      throw err;
    }
  };

  const reload = async (): Promise<void> => {
    if (reloading || stopping) return;
    reloading = true;
    try {
      const next = await loadConfig(file);
      requireSchedule(next);
      await followListen(loaded.config.server.listen, next.config.server.listen);
      await scheduler.stop(CHECKS_GRACE_MS);
      await dispatcher.stop(Date.now() + 2_000);
      await dispatcher.close();
      if (JSON.stringify(next.config.registries) !== JSON.stringify(loaded.config.registries)) {
        await client.close();
        client = newClient(next, logger, metrics);
      }
      loaded = next;
      dispatcher = await openDispatcher(loaded, store, logger, metrics.deliveryAttempt);
      dispatcher.start();
      scheduler = makeScheduler(loaded, runNow, logger);
      scheduler.start();
      logger.info({ config: file }, 'config reloaded');
    } catch (err) {
      logger.error(`config reload rejected, keeping the running config: ${errorMessage(err)}`);
    } finally {
      reloading = false;
    }
  };

  return new Promise<number>((resolve) => {
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      const deadline = Date.now() + SHUTDOWN_MS;
      logger.info({ signal }, 'stopping');
      // No new API requests (a POST /api/check now would start a run we are about to abandon).
      await server?.close();
      const outcome = await scheduler.stop(CHECKS_GRACE_MS);
      if (outcome === 'abandoned') logger.warn('in-flight run abandoned; its changes will be found again by the next run');
      const flushed = await dispatcher.stop(deadline);
      const { pending } = store.deliveries.counts();
      if (flushed === undefined || pending > 0) logger.info({ pending }, 'deliveries left pending for the next start');
      const closing = new AbortController();
      await Promise.race([Promise.all([dispatcher.close(), closeHttpAgent(), client.close()]), sleep(500, closing.signal)]).catch(() => undefined);
      closing.abort();
      store.close();
      logger.info('stopped');
      process.off('SIGHUP', onHup);
      resolve(0);
    };
    const onHup = (): void => void reload();
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', onHup);
    const asked = stopAskedEarly();
    if (asked !== undefined) void stop(asked);
  });
}

function newClient(loaded: LoadedConfig, logger: Logger, metrics: Metrics): RegistryClient {
  return new RegistryClient({ registries: loaded.config.registries, logger, onRequest: metrics.registryRequest });
}

async function listen(address: string | undefined, ctx: ServerContext): Promise<HeraldServer | undefined> {
  if (address === undefined) return undefined;
  try {
    return await startServer(address, ctx);
  } catch (err) {
    if (err instanceof ListenError) throw new ConfigError(err.message);
    throw err;
  }
}

function requireSchedule(loaded: LoadedConfig): void {
  if (!loaded.config.watch.schedule) {
    const where = loaded.locate(['watch']);
    throw new ConfigError(`${where}: watch.schedule: required by serve (e.g. "0 */6 * * *"); use "herald check" for a single run`);
  }
}

function makeScheduler(loaded: LoadedConfig, run: (signal: AbortSignal) => Promise<void>, logger: Logger): Scheduler {
  const { watch } = loaded.config;
  return new Scheduler({ schedule: watch.schedule!, timezone: watch.timezone, jitterMs: watch.jitter, logger, run });
}
