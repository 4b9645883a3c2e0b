/**
 * Shared wiring for integration tests: a config on disk, a store, a client, one run; the CLI as a
 * child process (`herald`, `spawnServe`), and one way to wait for something (`until`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
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

/**
 * Polls `condition` every `intervalMs` until it holds. After `timeoutMs` it throws, naming `what`
 * (and adding `detail()`, e.g. the tail of a process's log, when given).
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  opts: { what: string; timeoutMs?: number; intervalMs?: number; detail?: () => string },
): Promise<void> {
  const { what, timeoutMs = 10_000, intervalMs = 50 } = opts;
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${opts.detail ? `\n${opts.detail()}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface ServeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `bin/herald serve`. */
export interface Serve {
  readonly child: ChildProcess;
  /** stdout and stderr together, as they arrived (the log is on stderr). */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** How many times `pattern` occurs in the output (e.g. /run finished/: how many runs ended). */
  count(pattern: RegExp): number;
  readonly exited: Promise<ServeExit>;
  /** SIGTERM, then waits for the exit; SIGKILL if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<ServeExit>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<ServeExit>;
}

export interface ServeOptions {
  /** Environment on top of this process's, from which every other HERALD_* variable is removed. */
  env?: NodeJS.ProcessEnv;
  /** More arguments after `serve -c <file>`. */
  args?: string[];
  /** Resolve once the output matches this; default the start line. null: resolve at once. */
  waitFor?: RegExp | null;
  /** How long to wait for `waitFor`; default 10 s. */
  timeoutMs?: number;
  /** For long loops: keep only about the last this many characters of each output. */
  keepChars?: number;
}

const running = new Set<Serve>();

/**
 * Starts the real `bin/herald serve -c <configFile>` and waits until it says it started (or
 * `waitFor`). When the process exits first or the wait times out, it is killed and this throws,
 * with the output. A file that starts serves calls `killServes()` in afterEach or afterAll.
 */
export async function spawnServe(configFile: string, opts: ServeOptions = {}): Promise<Serve> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
  Object.assign(env, opts.env);
  const child = spawn(process.execPath, [HERALD, 'serve', '-c', configFile, ...(opts.args ?? [])], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { all: '', stdout: '', stderr: '' };
  const keep = (s: string): string => (opts.keepChars !== undefined && s.length > 2 * opts.keepChars ? s.slice(-opts.keepChars) : s);
  let onOutput = (): void => undefined;
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (d: Buffer) => {
      text[stream] = keep(text[stream] + d.toString('utf8'));
      text.all = keep(text.all + d.toString('utf8'));
      onOutput();
    });
  }
  const exited = new Promise<ServeExit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const output = (): string => text.all;
  const signalAndWait = (signal: NodeJS.Signals): Promise<ServeExit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  const serve: Serve = {
    child,
    output,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    count: (pattern) => (text.all.match(new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`)) ?? []).length,
    exited,
    stop: async (timeoutMs = 15_000) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await signalAndWait('SIGTERM');
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => signalAndWait('SIGKILL'),
  };
  running.add(serve);
  void exited.then(() => running.delete(serve));

  const waitFor = opts.waitFor === undefined ? /herald serve started/ : opts.waitFor;
  if (waitFor === null) return serve;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const problem = await new Promise<string | undefined>((resolve) => {
    const done = (why?: string): void => {
      clearTimeout(timer);
      onOutput = () => undefined;
      resolve(why);
    };
    const timer = setTimeout(() => done(`did not log ${waitFor} within ${timeoutMs} ms`), timeoutMs);
    onOutput = () => {
      if (waitFor.test(output())) done();
    };
    void exited.then(({ code, signal }) => done(`exited (code ${code}, signal ${signal}) before it logged ${waitFor}`));
    onOutput();
  });
  if (problem === undefined) return serve;
  // The caller gets no handle to a serve that did not start: it is killed here.
  await serve.kill();
  throw new Error(`herald serve -c ${configFile} ${problem}; its output:\n${output().slice(-3_000)}`);
}

/** SIGKILLs every serve started here that is still running, and waits for them to exit. */
export async function killServes(): Promise<void> {
  await Promise.all([...running].map((serve) => serve.kill()));
}
