#!/usr/bin/env node
/**
 * `npm run build` (and `prepare`, so `npm ci` builds): TypeScript to dist/ with tsc, the dashboard's
 * files (src/server/ui/) copied to dist/ui/, then the CLI as a bundle in dist/bundle/, which bin/herald runs.
 *
 * Why a bundle: herald's own ~60 modules, zod's ~150 (it re-exports every locale), yaml's and
 * commander's are a few hundred files for Node to resolve, read and link at every start. In one
 * bundle (split only at herald's lazy imports) `herald check` on an empty config starts in ~0.28 s
 * instead of ~0.40 s on the 2-core test machine (docs/BENCHMARKS.md). Only packages that are plain
 * code go in. The others stay in node_modules, loaded as before: better-sqlite3 (native), pino and
 * its transports (worker threads found by path), undici, nodemailer, liquidjs, node-cron, semver,
 * prom-client and tinyglobby (loaded lazily, several through createRequire).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Bundled into dist/bundle; every other bare import stays external. */
const INLINE = new Set(['zod', 'yaml', 'js-yaml', 'commander']);

const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// The dashboard's page and assets (plain files, no build step): dist/ui/, where an installed herald reads them.
rmSync(join(root, 'dist', 'ui'), { recursive: true, force: true });
cpSync(join(root, 'src', 'server', 'ui'), join(root, 'dist', 'ui'), { recursive: true });

const { build } = await import('rolldown');
const out = join(root, 'dist', 'bundle');
rmSync(out, { recursive: true, force: true });
await build({
  input: join(root, 'dist', 'cli', 'main.js'),
  platform: 'node',
  logLevel: 'warn',
  // A lazy import of a module that something else loads eagerly is only a missed split, not a fault.
  onLog(level, log, handler) {
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log);
  },
  external: (id) => {
    if (id.startsWith('node:') || id.startsWith('.') || id.startsWith('/')) return false;
    const pkg = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0];
    return !INLINE.has(pkg);
  },
  output: { dir: out, format: 'esm', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
});
