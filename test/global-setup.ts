import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * CLI tests run the real bin/herald, which runs dist/. Compile once before the suite so they never
 * test a stale build. A failed build does not stop the suite: the type check reports it, and the
 * CLI tests fail on their own.
 */
export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const r = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`global setup: build failed, CLI tests will use whatever dist/ holds\n${r.stdout}${r.stderr}`.slice(0, 4000));
}
