import { jsonSchema } from '../config/schema.js';
import { findConfigFile, loadConfig } from '../config/load.js';
import { resolveImages } from '../config/images.js';
import { ConfigError } from '../util/errors.js';
import { counted } from '../util/text.js';
import { print, printJson, type CommandOptions } from './context.js';

export type ValidateOptions = CommandOptions;

export async function validate(opts: ValidateOptions): Promise<number> {
  try {
    const file = findConfigFile(opts.config);
    const loaded = await loadConfig(file);
    const images = await resolveImages(loaded);
    const { registries, notifiers } = loaded.config;
    print(`${loaded.file}: valid (${counted(images.length, 'image')}, ${counted(registries.length, 'registry', 'registries')}, ${counted(notifiers.length, 'notifier')})`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const problems = (err as ConfigError & { problems?: string[] }).problems ?? [err.message];
    for (const p of problems) process.stderr.write(`${p}\n`);
    return 2;
  }
}

export async function schema(): Promise<number> {
  printJson(jsonSchema());
  return 0;
}
