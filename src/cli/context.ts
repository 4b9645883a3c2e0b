/** What the commands share: find and load the config, make the logger, open the store and client. */
import type { Command } from 'commander';
import { createLogger, type Logger } from '../util/log.js';
import { findConfigFile, loadConfig, type LoadedConfig } from '../config/load.js';
import { notifierCatalog } from '../notify/notifiers/index.js';
import { Store } from '../store/index.js';
import { parseReference } from '../model/reference.js';
export { shortDigest } from '../model/digest.js';
import { UsageError } from '../util/errors.js';
import type { GlobalOptions } from './main.js';

export interface CommandOptions extends GlobalOptions {
  json?: boolean;
  image?: string;
  limit?: string;
}

/** commander passes the command as the last action argument; its opts merged with the globals. */
export function optionsOf(args: unknown[]): CommandOptions {
  const cmd = args[args.length - 1] as Command;
  return cmd.optsWithGlobals<CommandOptions>();
}

export function loggerFor(opts: CommandOptions): Logger {
  return createLogger({ level: opts.logLevel, secretKeys: notifierCatalog.redactKeys });
}

export async function loadFromOptions(opts: CommandOptions): Promise<LoadedConfig> {
  return loadConfig(findConfigFile(opts.config));
}

/** `writer`: the command runs checks and sends notifications, so it takes the writer lock. */
export function openStore(loaded: LoadedConfig, writer?: 'serve' | 'check'): Store {
  return Store.open(loaded.config.db.path, writer !== undefined ? { writer } : {});
}

/** Writes command output to stdout. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** A plain text table: columns padded to their widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** The configured notifiers, and the dispatcher that sends the outbox through them. */
export async function openDispatcher(
  loaded: LoadedConfig,
  store: Store,
  logger: Logger,
  onAttempt?: import('../notify/outbox.js').DispatcherOptions['onAttempt'],
): Promise<import('../notify/outbox.js').Dispatcher> {
  const [{ createNotifier }, { Dispatcher }] = await Promise.all([import('../notify/notifiers/index.js'), import('../notify/outbox.js')]);
  const notifiers = loaded.config.notifiers.map((n) => createNotifier(n, { logger }));
  return new Dispatcher({ store, notifiers, retry: loaded.config.notify.retry, logger, ...(onAttempt ? { onAttempt } : {}) });
}

/** An image given on the command line, normalized; a bad reference is a usage error (exit 2). */
export function imageArgument(raw: string): string {
  try {
    return parseReference(raw).name;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
