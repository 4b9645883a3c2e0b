import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * CLI tests run the real bin/herald, which runs dist/bundle/. Build once before the suite so they never
 * test a stale build. A failed build does not stop the suite: the type check reports it, and the
 * CLI tests fail on their own.
 */
export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  // tsc to dist/, then the bundle bin/herald runs (dist/bundle): what `npm run build` does.
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`global setup: build failed, CLI tests will use whatever dist/ holds\n${r.stdout}${r.stderr}`.slice(0, 4000));
}
