import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * Root of the installed package (the folder holding package.json, migrations/, config/): the nearest
 * folder above this file that has both. Usually dist/.. ; the benchmark's own build (dist-bench/src)
 * sits one level deeper and finds the same root.
 */
export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(from: string): string {
  for (let dir = from; ; ) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return join(from, '..');
    dir = parent;
  }
}

let cached: string | undefined;
export function version(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    cached = pkg.version;
  }
  return cached;
}

let agentString: string | undefined;
/** Built once: it goes on every request. */
export function userAgent(): string {
  agentString ??= `herald/${version()}`;
  return agentString;
}
