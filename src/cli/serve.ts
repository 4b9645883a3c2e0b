/**
 * `herald serve`: the daemon. Runs on the schedule, reloads the config on SIGHUP (keeping the
 * running one when the new one is bad), and stops cleanly on SIGTERM/SIGINT with exit 0.
 */
import { RegistryClient } from '../registry/client.js';
import { runOnce } from '../watch/run.js';
import { Scheduler } from '../watch/scheduler.js';
import { ConfigError, errorMessage } from '../errors.js';
import { findConfigFile, loadConfig, type LoadedConfig } from '../config/load.js';
import { loggerFor, openStore, optionsOf } from './context.js';

const SHUTDOWN_GRACE_MS = 10_000;

export async function serve(...args: unknown[]): Promise<number> {
  const opts = optionsOf(args);
  const logger = loggerFor(opts);
  const file = findConfigFile(opts.config);
  let loaded = await loadConfig(file);
  requireSchedule(loaded);
  const store = openStore(loaded);
  // One client for the life of the process (until a reload changes the registries): its token
  // cache and keep-alive connections are what make an unchanged image cost one HEAD.
  let client = new RegistryClient({ registries: loaded.config.registries, logger });

  const runNow = async (signal: AbortSignal): Promise<void> => {
    await runOnce({ loaded, store, client, logger }, { signal });
  };

  let scheduler = makeScheduler(loaded, runNow, logger);
  logger.info({ config: loaded.file, db: loaded.config.db.path }, 'herald serve started');
  scheduler.start();
  if (loaded.config.watch.runOnStartup) void scheduler.trigger('startup');

  let reloading = false;
  const reload = async (): Promise<void> => {
    if (reloading) return;
    reloading = true;
    try {
      const next = await loadConfig(file);
      requireSchedule(next);
      const previous = scheduler;
      await previous.stop(SHUTDOWN_GRACE_MS);
      if (JSON.stringify(next.config.registries) !== JSON.stringify(loaded.config.registries)) {
        await client.close();
        client = new RegistryClient({ registries: next.config.registries, logger });
      }
      loaded = next;
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
      logger.info({ signal }, 'stopping');
      const outcome = await scheduler.stop(SHUTDOWN_GRACE_MS);
      if (outcome === 'abandoned') logger.warn('in-flight run abandoned; its results will be found again by the next run');
      await client.close().catch(() => undefined);
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
    throw new ConfigError(`${loaded.file}: watch.schedule: required by serve (e.g. "0 */6 * * *"); use "herald check" for a single run`);
  }
}

function makeScheduler(loaded: LoadedConfig, run: (signal: AbortSignal) => Promise<void>, logger: ReturnType<typeof loggerFor>): Scheduler {
  const { watch } = loaded.config;
  return new Scheduler({ schedule: watch.schedule!, timezone: watch.timezone, jitterMs: watch.jitter, logger, run });
}
