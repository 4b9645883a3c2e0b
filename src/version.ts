import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Root of the installed package (the folder holding package.json, migrations/, config/). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let cached: string | undefined;
export function version(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    cached = pkg.version;
  }
  return cached;
}

export function userAgent(): string {
  return `herald/${version()}`;
}
