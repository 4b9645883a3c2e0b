/** Shared wiring for integration tests: a config on disk, a store, a client, one run. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { Store } from '../../src/store/index.js';
import { RegistryClient, type RequestEvent } from '../../src/registry/client.js';
import { runOnce, type RunResult } from '../../src/watch/run.js';
import { silentLogger } from '../../src/util/log.js';
import type { TestRegistry } from '../../fixtures/registry.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const HERALD = join(ROOT, 'bin', 'herald');

export function tempDir(prefix = 'herald-it-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A registries entry for a test registry reached at `host` (a proxy or the registry itself). */
export function registryEntry(name: string, host: string, reg: Pick<TestRegistry, 'username' | 'password'>): string {
  const lines = [`  - name: ${name}`, `    host: "${host}"`, '    insecure: true', '    timeout: 3s'];
  if (reg.username !== undefined) lines.push(`    username: ${reg.username}`, `    password: "${reg.password}"`);
  return lines.join('\n');
}

export function writeConfig(dir: string, yaml: string, name = 'herald.yml'): string {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

export interface Harness {
  loaded: LoadedConfig;
  store: Store;
  client: RegistryClient;
  requests: RequestEvent[];
  run(): Promise<RunResult>;
  close(): Promise<void>;
}

/** One long-lived store and client, as in `serve`: runs share the token cache and connections. */
export async function harness(configFile: string): Promise<Harness> {
  const loaded = await loadConfig(configFile, {});
  const store = Store.open(loaded.config.db.path);
  const requests: RequestEvent[] = [];
  const client = new RegistryClient({ registries: loaded.config.registries, logger: silentLogger, onRequest: (e) => requests.push(e), retries: 0 });
  return {
    loaded, store, client, requests,
    run: () => runOnce({ loaded, store, client, logger: silentLogger }),
    close: async () => {
      await client.close();
      store.close();
    },
  };
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

export function herald(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...opts.env };
    for (const k of Object.keys(env)) if (k.startsWith('HERALD_') && !(opts.env && k in opts.env)) delete env[k];
    const child = spawn(process.execPath, [HERALD, ...args], { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
