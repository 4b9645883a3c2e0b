/** What the commands share: their common options, the config and logger they ask for, and printing. */
import { createLogger, type Logger } from '../util/log.js';
import { findConfigFile, loadConfig, type LoadedConfig } from '../config/load.js';
import { notifierCatalog } from '../notify/notifiers/index.js';
import { parseReference } from '../model/reference.js';
import { UsageError } from '../util/errors.js';

/** The options every command has: `-c/--config` (per command) and the global `--log-level`. Each command's own options extend these. */
export interface CommandOptions {
  config?: string;
  logLevel?: string;
}

export function loggerFor(opts: CommandOptions): Logger {
  return createLogger({ level: opts.logLevel, secretKeys: notifierCatalog.redactKeys });
}

export async function loadFromOptions(opts: CommandOptions): Promise<LoadedConfig> {
  return loadConfig(findConfigFile(opts.config));
}

/** Writes command output to stdout. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

/** A plain text table: columns padded to their widest cell, no trailing blanks when the last cell is empty. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** An image given on the command line, normalized; a bad reference is a usage error (exit 2). */
export function imageArgument(raw: string): string {
  try {
    return parseReference(raw).name;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
