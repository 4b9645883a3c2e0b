/**
 * `herald serve`: the daemon. Runs on the schedule, keeps draining the outbox between runs,
 * reloads the config on SIGHUP (keeping the running one when the new one is bad), and stops
 * cleanly on SIGTERM/SIGINT with exit 0.
 */
import { RegistryClient } from '../registry/client.js';
import { runOnce } from '../watch/run.js';
import { Scheduler } from '../watch/scheduler.js';
import { ConfigError, errorMessage } from '../errors.js';
import { findConfigFile, loadConfig, type LoadedConfig } from '../config/load.js';
import type { Dispatcher } from '../notify/dispatcher.js';
import { closeHttpAgent } from '../notify/http.js';
import type { Logger } from '../log.js';
import { loggerFor, openDispatcher, openStore, optionsOf } from './context.js';

/** Whole shutdown budget: in-flight checks get part of it, the last delivery pass the rest. */
const SHUTDOWN_MS = 9_000;
const CHECKS_GRACE_MS = 4_000;

export async function serve(...args: unknown[]): Promise<number> {
  const opts = optionsOf(args);
  const logger = loggerFor(opts);
  const file = findConfigFile(opts.config);
  let loaded = await loadConfig(file);
  requireSchedule(loaded);
  const store = openStore(loaded, 'serve');
  // One client for the life of the process (until a reload changes the registries): its token
  // cache and keep-alive connections are what make an unchanged image cost one HEAD.
  let client = new RegistryClient({ registries: loaded.config.registries, logger });
  let dispatcher: Dispatcher = await openDispatcher(loaded, store, logger);

  const runNow = async (signal: AbortSignal): Promise<void> => {
    const { events } = await runOnce({ loaded, store, client, logger }, { signal });
    if (events.length > 0) dispatcher.wake();
  };

  let scheduler = makeScheduler(loaded, runNow, logger);
  logger.info({ config: loaded.file, db: loaded.config.db.path, pid: process.pid }, 'herald serve started');
  dispatcher.start();
  scheduler.start();
  if (loaded.config.watch.runOnStartup) void scheduler.trigger('startup');

  let reloading = false;
  const reload = async (): Promise<void> => {
    if (reloading) return;
    reloading = true;
    try {
      const next = await loadConfig(file);
      requireSchedule(next);
      await scheduler.stop(CHECKS_GRACE_MS);
      await dispatcher.stop(Date.now() + 2_000);
      await dispatcher.close();
      if (JSON.stringify(next.config.registries) !== JSON.stringify(loaded.config.registries)) {
        await client.close();
        client = new RegistryClient({ registries: next.config.registries, logger });
      }
      loaded = next;
      dispatcher = await openDispatcher(loaded, store, logger);
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
    let stopping = false;
    const stop = async (signal: string): Promise<void> => {
      if (stopping) return;
      stopping = true;
      const deadline = Date.now() + SHUTDOWN_MS;
      logger.info({ signal }, 'stopping');
      const outcome = await scheduler.stop(CHECKS_GRACE_MS);
      if (outcome === 'abandoned') logger.warn('in-flight run abandoned; its changes will be found again by the next run');
      const flushed = await dispatcher.stop(deadline);
      const { pending } = store.deliveries.counts();
      if (flushed === undefined || pending > 0) logger.info({ pending }, 'deliveries left pending for the next start');
      await Promise.race([Promise.all([dispatcher.close(), closeHttpAgent(), client.close()]), new Promise((r) => setTimeout(r, 500))]).catch(() => undefined);
      store.close();
      logger.info('stopped');
      process.off('SIGHUP', onHup);
      resolve(0);
    };
    const onHup = (): void => void reload();
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', onHup);
  });
}

function requireSchedule(loaded: LoadedConfig): void {
  if (!loaded.config.watch.schedule) {
    const where = loaded.locate?.(['watch']) ?? loaded.file;
    throw new ConfigError(`${where}: watch.schedule: required by serve (e.g. "0 */6 * * *"); use "herald check" for a single run`);
  }
}

function makeScheduler(loaded: LoadedConfig, run: (signal: AbortSignal) => Promise<void>, logger: Logger): Scheduler {
  const { watch } = loaded.config;
  return new Scheduler({ schedule: watch.schedule!, timezone: watch.timezone, jitterMs: watch.jitter, logger, run });
}
