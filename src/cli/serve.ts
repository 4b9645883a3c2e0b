/**
 * `herald serve`: finds the config file, then runs the daemon (daemon/daemon.ts) until a signal
 * stops it (daemon/signals.ts). Exit 0 on a clean stop; a config serve cannot run with is a
 * ConfigError, exit 2.
 */
import { Daemon } from '../daemon/daemon.js';
import { routeSignals } from '../daemon/signals.js';
import { findConfigFile, loadConfig } from '../config/load.js';
import { loadFullYaml } from '../config/source.js';
import { loggerFor, type CommandOptions } from './context.js';

export type ServeOptions = CommandOptions;

export async function serve(opts: ServeOptions): Promise<number> {
  const logger = loggerFor(opts);
  const file = findConfigFile(opts.config);
  // serve names config problems found outside the loader (watch.schedule, a reload) with their
  // positions, which needs the full YAML parser at once; the image has it only in the bundle, not in
  // node_modules, so it is loaded here (a long-running process loses nothing by it).
  await loadFullYaml();
  const daemon = new Daemon({ loadConfig: () => loadConfig(file), logger });
  // Before the first await: no signal can come between here and the start of the daemon.
  const release = routeSignals(daemon);
  try {
    await daemon.start();
    await daemon.stopped;
    return 0;
  } finally {
    release();
  }
}
