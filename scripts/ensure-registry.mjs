#!/usr/bin/env node
// pretest and prebench: make sure what the integration tests and the bench start is installed:
// `docker-registry` (distribution 2.8, Debian package docker-registry), and for the engine tests
// podman, runc and a static busybox (the Docker source runs against podman's Docker-compatible API),
// and chromium for the dashboard's browser tests.
// Installs what is missing when running as root, in one apt-get before any test starts (test files
// run in parallel, and two apt-gets at once fight over dpkg's lock).
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

/** Whether a Debian package is installed (busybox-static has no command of its own to look for). */
function installed(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

const packages = [];
if (!onPath('docker-registry')) packages.push('docker-registry');
// The engine tests need root; without it they skip themselves, and nothing here is needed.
const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (root) {
  if (!onPath('podman')) packages.push('podman');
  if (!onPath('runc')) packages.push('runc');
  if (!installed('busybox-static')) packages.push('busybox-static');
  // The dashboard's browser tests (playwright-core drives it; no browser download).
  if (!onPath('chromium')) packages.push('chromium');
}
if (packages.length === 0) process.exit(0);

if (root) {
  const r = spawnSync('sh', ['-c', `apt-get update && apt-get install -y ${packages.join(' ')}`], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) {
    process.stderr.write(`herald tests and benchmarks need ${packages.join(', ')}: ${r.error.message}\n`);
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

process.stderr.write('herald tests and benchmarks need docker-registry: run "sudo apt-get install -y docker-registry"\n');
process.exit(1);
