#!/usr/bin/env node
// pretest and prebench: make sure the `docker-registry` binary (distribution 2.8, Debian package docker-registry)
// that the integration tests start is installed. Installs it when running as root.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

if (onPath('docker-registry')) process.exit(0);

if (typeof process.getuid === 'function' && process.getuid() === 0) {
  const r = spawnSync('sh', ['-c', 'apt-get update && apt-get install -y docker-registry'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) {
    process.stderr.write(`herald tests and benchmarks need docker-registry: ${r.error.message}\n`);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

process.stderr.write('herald tests and benchmarks need docker-registry: run "sudo apt-get install -y docker-registry"\n');
process.exit(1);
