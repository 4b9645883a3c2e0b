/**
 * `npm run bench`: herald against a real docker-registry (token auth) behind a latency proxy.
 *
 * For each N and each worker count C it measures, in a serve-like process (bench/worker.ts):
 * a warm run with nothing changed, then a run where 10% of the images changed: wall time and its
 * ratio to the latency bound N·r/C, requests per image by kind, connections opened, peak RSS and
 * heap, and SQLite time (state load + the run's one transaction). Then whole-process `herald check`
 * times (empty config; 300 images) and a real `herald serve` process with the largest N.
 * Around the target row (N = 1000, C = 16): a bare undici client's time for the same requests (the
 * testbed's floor), one HEAD at a time (the round trip this testbed really has), the same run at
 * r = 50 ms, a slow registry beside a fast one, a stub server instead of docker-registry, and a
 * proxy that enforces a rate-limit budget. It ends with each of herald's performance targets: met or MISSED.
 *
 *   npm run bench                      # N = 100, 1000, 5000; C = 4, 16, 64; r = 20 ms
 *   npm run bench -- --quick           # N = 100, 1000; C = 16
 *   npm run bench -- --sizes 1000 --workers 16 --delay 20 --no-serve --no-check
 *   (each section has a --no-… flag: --no-rate-limit, --no-stub, --no-neighbour, --no-sources, --no-tags, --no-dashboard, --no-watchrepo, --no-startup)
 *   npm run bench -- --sizes 0 --only startup   # one section alone (here: check as a whole process vs a bare client)
 *   BENCH_STARTUP_TRACE=1 BENCH_STARTUP_BASELINE=/tmp/herald-before/bin/herald npm run bench -- --sizes 0 --only startup
 */
import { measureSources, sourceLines, sourceTargets, type SourcesFigures } from './sources.js';
import { measureTags, tagLines, tagTargets, type TagsFigures } from './tags.js';
import { dashboardLines, dashboardTargets, measureDashboard, type DashboardResult } from './dashboard.js';
import { measureWatchRepo, watchRepoLines, watchRepoTargets, type WatchRepoFigures } from './watchrepo.js';
import { measureStartup, startupLines, startupTargets, type StartupFigures } from './startup.js';
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { Writable } from 'node:stream';
import { startDelayProxy } from './delay-proxy.js';
import { benchImage, mintBareClientTokens, pickChanged, startWorld, type World } from './world.js';
import type { RunFigures } from './worker.js';
import { startCountingProxy } from '../fixtures/proxy.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/util/log.js';
import { RegistryClient } from '../src/registry/client.js';
import { Store } from '../src/store/index.js';
import { runOnce, type RunResult } from '../src/watch/run.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist-bench/bench/run.js → ../.. */
const ROOT = resolve(here, '..', '..');
const HERALD = join(ROOT, 'bin', 'herald');

interface Options {
  sizes: number[];
  workers: number[];
  delayMs: number;
  serve: boolean;
  check: boolean;
  rateLimit: boolean;
  stub: boolean;
  neighbour: boolean;
  sources: boolean;
  tags: boolean;
  dashboard: boolean;
  watchRepo: boolean;
  startup: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { sizes: [100, 1000, 5000], workers: [4, 16, 64], delayMs: 20, serve: true, check: true, rateLimit: true, stub: true, neighbour: true, sources: true, tags: true, dashboard: true, watchRepo: true, startup: true };
  const list = (v: string | undefined) => (v ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') {
      opts.sizes = [100, 1000];
      opts.workers = [16];
      opts.serve = false;
    } else if (a === '--sizes') opts.sizes = list(argv[++i]);
    else if (a === '--workers') opts.workers = list(argv[++i]);
    else if (a === '--delay') opts.delayMs = Number(argv[++i]);
    else if (a === '--no-serve') opts.serve = false;
    else if (a === '--no-check') opts.check = false;
    else if (a === '--no-rate-limit') opts.rateLimit = false;
    else if (a === '--no-stub') opts.stub = false;
    else if (a === '--no-neighbour') opts.neighbour = false;
    else if (a === '--no-sources') opts.sources = false;
    else if (a === '--no-tags') opts.tags = false;
    else if (a === '--no-dashboard') opts.dashboard = false;
    else if (a === '--no-watchrepo') opts.watchRepo = false;
    else if (a === '--no-startup') opts.startup = false;
    else if (a === '--only') {
      // Every section off but the one named (the size rows run as --sizes says).
      const keep = argv[++i] as keyof Options;
      for (const k of ['serve', 'check', 'rateLimit', 'stub', 'neighbour', 'sources', 'tags', 'dashboard', 'watchRepo', 'startup'] as const) opts[k] = k === keep;
    }
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

// ---------------------------------------------------------------------------------------------

interface WorkerMessage {
  type: string;
  figures?: RunFigures;
  message?: string;
}

interface Row {
  n: number;
  c: number;
  run: 'first' | 'unchanged' | 'changed 10%';
  changed: number;
  /** Of the changed images, those that are multi-platform (an index and a platform manifest to fetch). */
  changedMulti: number;
  figures: RunFigures;
  counts: ReturnType<World['counts']>;
  /** CPU ms of the registry and of the bench's own process (proxies, token server) during the run. */
  registryCpuMs: number;
  proxiesCpuMs: number;
}

export function configYaml(world: World, n: number, dbPath: string, extra: string[] = [], host = world.proxy.host): string {
  const lines = [
    `db: { path: ${JSON.stringify(dbPath)} }`,
    'watch:',
    '  workers: 16',
    '  jitter: 0',
    ...extra,
    'defaults: { platform: linux/amd64 }',
    'registries:',
    '  - name: bench',
    `    host: "${host}"`,
    '    insecure: true',
    '    concurrency: 16',
    `    username: ${world.username}`,
    `    password: "${world.password}"`,
    'images:',
  ];
  for (let i = 0; i < n; i++) {
    const img = benchImage(i);
    lines.push(`  - name: ${host}/${img.repo}:${img.tag}`);
  }
  return `${lines.join('\n')}\n`;
}

class Worker {
  private pending: { resolve: (msg: WorkerMessage) => void; reject: (err: Error) => void } | undefined;
  private constructor(private readonly child: ReturnType<typeof fork>) {
    child.on('message', (msg: WorkerMessage) => {
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(msg);
    });
    child.on('exit', (code) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(new Error(`bench worker exited (${code})`));
    });
  }

  static async start(configFile: string, logFile: string): Promise<Worker> {
    // BENCH_CPU_PROF=DIR writes a CPU profile of each worker there (for finding where herald's time goes).
    const prof = process.env.BENCH_CPU_PROF;
    const execArgv = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
    const child = fork(join(here, 'worker.js'), [configFile, logFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    const w = new Worker(child);
    await w.next();
    return w;
  }

  private next(): Promise<WorkerMessage> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
  }

  async run(workers: number): Promise<RunFigures> {
    const answer = this.next();
    this.child.send({ cmd: 'run', workers });
    const msg = await answer;
    if (msg.type !== 'figures' || !msg.figures) throw new Error(`bench worker: ${msg.message ?? msg.type}`);
    return msg.figures;
  }

  async exit(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.send({ cmd: 'exit' });
    await exited;
  }
}

/** A bare undici client's time for the same HEADs against docker-registry (tokens minted like herald's batches). */
async function registryFloor(world: World, n: number, c: number, tmp: string): Promise<BareFigures> {
  const file = mintBareClientTokens(world, n, join(tmp, `tokens-${n}.json`));
  return bareClient(world.proxy.url, n, c, file);
}

async function measureSize(world: World, n: number, workerCounts: number[], tmp: string, round: { value: number }): Promise<{ rows: Row[]; dbPath: string; configFile: string; floor?: { c: number } & BareFigures }> {
  const t = performance.now();
  await world.pushUpTo(n);
  log(`N=${n}: images pushed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const dbPath = join(tmp, `n${n}.db`);
  const configFile = join(tmp, `n${n}.yml`);
  writeFileSync(configFile, configYaml(world, n, dbPath));
  const worker = await Worker.start(configFile, join(tmp, `n${n}.log`));
  const rows: Row[] = [];
  const measure = async (c: number, run: Row['run'], changed: number, changedMulti = 0): Promise<Row> => {
    world.reset();
    const cpu0 = world.cpu();
    const figures = await worker.run(c);
    const cpu1 = world.cpu();
    const row = { n, c, run, changed, changedMulti, figures, counts: world.counts(), registryCpuMs: cpu1.registryMs - cpu0.registryMs, proxiesCpuMs: cpu1.proxiesMs - cpu0.proxiesMs };
    rows.push(row);
    log(`N=${n} C=${c} ${run}: ${figures.wallMs.toFixed(0)} ms, ${JSON.stringify(figures.statuses)}`);
    // The figures only count when herald saw what the world holds.
    const expected: Record<string, number> = run === 'first' ? { new: n } : run === 'unchanged' ? { unchanged: n } : { unchanged: n - changed, update: changed };
    if (JSON.stringify(figures.statuses) !== JSON.stringify(Object.fromEntries(Object.entries(expected).filter(([, v]) => v > 0)))) {
      throw new Error(`N=${n} C=${c} ${run}: herald reported ${JSON.stringify(figures.statuses)}, expected ${JSON.stringify(expected)}`);
    }
    return row;
  };
  try {
    // First sighting of everything (not a target; shows the cold cost), at the widest pool.
    await measure(Math.max(...workerCounts), 'first', 0);
    // One unmeasured unchanged run: serve repeats that path every few minutes, so the rows below
    // show it warm (JIT-compiled), not its first time.
    const warmUp = await worker.run(Math.max(...workerCounts));
    if (warmUp.statuses.unchanged !== n) throw new Error(`N=${n} warm-up: herald reported ${JSON.stringify(warmUp.statuses)}`);
    for (const c of workerCounts) {
      await measure(c, 'unchanged', 0);
      const k = Math.round(n / 10);
      round.value++;
      const picked = pickChanged(n, k, round.value);
      await world.change(picked, round.value);
      await measure(c, 'changed 10%', k, picked.filter((i) => benchImage(i).multi).length);
    }
  } finally {
    await worker.exit();
  }
  // The testbed's own floor for the target row (N = 1000, C = 16): the same HEADs from a bare client.
  const c = workerCounts.includes(16) ? 16 : workerCounts[0]!;
  const floor = n === 1000 ? { c, ...(await registryFloor(world, n, c, tmp)) } : undefined;
  return { rows, dbPath, configFile, ...(floor !== undefined ? { floor } : {}) };
}

// ---------------------------------------------------------------------------------------------
// The target row, looked at more closely

interface LatencyFigures {
  n: number;
  c: number;
  /** One HEAD at a time (bare client, 100 HEADs): what one round trip to this testbed's registry costs. */
  singleHeadMs: number;
  /** herald's third warm unchanged run at a longer delay, where the two cores are not the limit. */
  longDelayMs: number;
  long: RunFigures;
  longFloorMs: number;
}

async function measureLatency(world: World, n: number, c: number, configFile: string, delayMs: number, longDelayMs: number, tmp: string): Promise<LatencyFigures> {
  const singleHeadMs = (await registryFloor(world, 100, 1, tmp)).ms / 100;
  world.setDelay(longDelayMs);
  const worker = await Worker.start(configFile, join(tmp, `latency${n}.log`));
  try {
    // Two warm-up runs: the first also absorbs images the later sizes changed since this database's last run.
    await worker.run(c);
    await worker.run(c);
    const long = await worker.run(c);
    if (long.statuses.unchanged !== n) throw new Error(`r=${longDelayMs} ms run: herald reported ${JSON.stringify(long.statuses)}, expected ${n} unchanged`);
    const longFloorMs = (await registryFloor(world, n, c, tmp)).ms;
    return { n, c, singleHeadMs, longDelayMs, long, longFloorMs };
  } finally {
    await worker.exit();
    world.setDelay(delayMs);
  }
}

interface NeighbourFigures {
  fast: number;
  slow: number;
  slowDelayMs: number;
  workers: number;
  wallMs: number;
  /** From the run's start to the last answer each registry sent. */
  fastDoneMs: number;
  slowDoneMs: number;
}

/**
 * One slow registry beside the fast one: the same docker-registry behind a second proxy (another
 * host:port, so herald sees another registry) with a much longer delay, default per-registry bounds.
 */
async function measureNeighbour(world: World, tmp: string, delayMs: number): Promise<NeighbourFigures> {
  const fast = 1000;
  const slow = 100;
  const slowDelayMs = 15 * delayMs;
  const workers = 16;
  await world.pushUpTo(fast);
  const slowProxy = await startDelayProxy(world.registry.url, slowDelayMs);
  const file = join(tmp, 'neighbour.yml');
  const entry = (name: string, host: string) => [`  - name: ${name}`, `    host: "${host}"`, '    insecure: true', `    username: ${world.username}`, `    password: "${world.password}"`];
  const lines = [
    `db: { path: ${JSON.stringify(join(tmp, 'neighbour.db'))} }`,
    `watch: { workers: ${workers}, jitter: 0 }`,
    'defaults: { platform: linux/amd64 }',
    'registries:',
    ...entry('fast', world.proxy.host),
    ...entry('slow', slowProxy.host),
    'images:',
  ];
  for (let i = 0; i < fast; i++) lines.push(`  - name: ${world.proxy.host}/${benchImage(i).repo}:${benchImage(i).tag}`);
  for (let i = 0; i < slow; i++) lines.push(`  - name: ${slowProxy.host}/${benchImage(i).repo}:${benchImage(i).tag}`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const worker = await Worker.start(file, join(tmp, 'neighbour.log'));
  try {
    await worker.run(workers);
    await worker.run(workers);
    const f = await worker.run(workers);
    if (f.statuses.unchanged !== fast + slow) throw new Error(`neighbour run: herald reported ${JSON.stringify(f.statuses)}`);
    return { fast, slow, slowDelayMs, workers, wallMs: f.wallMs, fastDoneMs: world.proxy.lastAnswerAt - f.startedAt, slowDoneMs: slowProxy.lastAnswerAt - f.startedAt };
  } finally {
    await worker.exit();
    await slowProxy.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Whole processes

function runHerald(args: string[]): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
    const t0 = performance.now();
    const child = spawn(process.execPath, [HERALD, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ ms: performance.now() - t0, code, stderr }));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface CheckFigures {
  emptyMs: number[];
  imagesMs: number[];
  images: number;
  counts: ReturnType<World['counts']> | undefined;
}

async function measureCheck(world: World, tmp: string): Promise<CheckFigures> {
  const empty = join(tmp, 'empty.yml');
  writeFileSync(empty, `db: { path: ${JSON.stringify(join(tmp, 'empty.db'))} }\nimages: []\n`);
  await runHerald(['check', '-c', empty]); // creates the database once
  const emptyMs: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await runHerald(['check', '-c', empty]);
    if (r.code !== 0) throw new Error(`herald check (empty) exited ${r.code}: ${r.stderr}`);
    emptyMs.push(r.ms);
  }
  const images = 300;
  await world.pushUpTo(images);
  const cfg = join(tmp, 'check300.yml');
  writeFileSync(cfg, configYaml(world, images, join(tmp, 'check300.db')).replace('workers: 16', 'workers: 10'));
  const first = await runHerald(['check', '-c', cfg]);
  if (first.code !== 0) throw new Error(`herald check (300) exited ${first.code}: ${first.stderr.slice(0, 2000)}`);
  const imagesMs: number[] = [];
  let counts: CheckFigures['counts'];
  for (let i = 0; i < 3; i++) {
    world.reset();
    const r = await runHerald(['check', '-c', cfg]);
    if (r.code !== 0) throw new Error(`herald check (300) exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
    imagesMs.push(r.ms);
    counts = world.counts();
  }
  return { emptyMs, imagesMs, images, counts };
}

export interface ServeFigures {
  n: number;
  runsMs: number[];
  vmHwm: number;
  vmRss: number;
  counts: ReturnType<World['counts']>;
}

/** How measureServe runs: another config (the sources section builds its own), a hook when the first run ends. */
export interface ServeVariant {
  name: string;
  /** The config's text given the schedule lines; default the world's first n images. */
  config?: (schedule: string[]) => string;
  onFirstRun?: () => void;
}

/** A real `herald serve` with N images: two runs (startup + one scheduled), then its kernel-reported memory. */
export async function measureServe(world: World, n: number, dbPath: string, tmp: string, variant?: ServeVariant): Promise<ServeFigures> {
  const cfg = join(tmp, `serve${n}${variant ? `-${variant.name}` : ''}.yml`);
  const schedule = ['  schedule: "*/20 * * * * *"', '  runOnStartup: true'];
  writeFileSync(cfg, variant?.config ? variant.config(schedule) : configYaml(world, n, dbPath, schedule));
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
  world.reset();
  const child = spawn(process.execPath, [HERALD, 'serve', '-c', cfg, '--log-level', 'info'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const runsMs: number[] = [];
  let buffered = '';
  let countsAfterSecond: ReturnType<World['counts']> | undefined;
  const done = new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('serve did not finish two runs in 120 s')), 120_000);
    child.stderr.on('data', (d: Buffer) => {
      buffered += d.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let rec: { msg?: string; durationMs?: number } = {};
        try {
          rec = JSON.parse(line) as typeof rec;
        } catch {
          continue;
        }
        if (rec.msg?.startsWith('run finished')) {
          runsMs.push(rec.durationMs ?? NaN);
          if (runsMs.length === 1) {
            world.reset();
            variant?.onFirstRun?.();
          }
          if (runsMs.length === 2) {
            countsAfterSecond = world.counts();
            clearTimeout(timer);
            resolvePromise();
          }
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited early (${code})`)));
  });
  try {
    await done;
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { n, runsMs, vmHwm: kb('VmHWM'), vmRss: kb('VmRSS'), counts: countsAfterSecond! };
  } finally {
    child.removeAllListeners('exit');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

// ---------------------------------------------------------------------------------------------
// The same runs against a stub registry: a few lines of node:http that answer every HEAD with a
// fixed digest, behind the same latency proxy. Not a registry; it only shows how close herald itself
// gets to N·r/C when the server costs (almost) no CPU on the cores herald shares with it.

interface StubFigures {
  n: number;
  c: number;
  figures: RunFigures;
  heads: number;
  serverCpuMs: number;
  /** The same HEADs from a bare undici client (bench/floor-client.ts): what the testbed allows. */
  floorMs: number;
  floorCpuMs: number;
}

/** Wall and CPU time of the bare client's last round. */
interface BareFigures {
  ms: number;
  cpuMs: number;
}

function bareClient(origin: string, n: number, c: number, tokensFile?: string): Promise<BareFigures> {
  return new Promise((resolvePromise, reject) => {
    const args = [join(here, 'floor-client.js'), origin, String(n), String(c), ...(tokensFile !== undefined ? [tokensFile] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`floor client exited ${code}`));
      resolvePromise(JSON.parse(out) as BareFigures);
    });
  });
}

async function measureStub(n: number, c: number, delayMs: number, tmp: string): Promise<StubFigures> {
  let heads = 0;
  const digestOf = (path: string) => `sha256:${createHash('sha256').update(path).digest('hex')}`;
  const server = createServer((req, res) => {
    if (req.method === 'HEAD' && req.url?.includes('/manifests/')) {
      heads++;
      res.writeHead(200, { 'docker-content-digest': digestOf(req.url), 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': '500' }).end();
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const proxy = await startDelayProxy(`http://127.0.0.1:${port}`, delayMs);
  const file = join(tmp, 'stub.yml');
  const lines = [`db: { path: ${JSON.stringify(join(tmp, 'stub.db'))} }`, 'watch: { workers: 16 }', 'defaults: { platform: linux/amd64 }', 'registries:', `  - { name: stub, host: "${proxy.host}", insecure: true }`, 'images:'];
  for (let i = 0; i < n; i++) lines.push(`  - name: ${proxy.host}/${benchImage(i).repo}:1.0`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  const worker = await Worker.start(file, join(tmp, 'stub.log'));
  try {
    await worker.run(c); // first sighting
    await worker.run(c); // warm-up of the warm path
    heads = 0;
    const cpu0 = process.cpuUsage();
    const figures = await worker.run(c);
    const cpu = process.cpuUsage(cpu0);
    const headsInRun = heads;
    const floor = await bareClient(proxy.url, n, c);
    return { n, c, figures, heads: headsInRun, serverCpuMs: (cpu.user + cpu.system) / 1000, floorMs: floor.ms, floorCpuMs: floor.cpuMs };
  } finally {
    await worker.exit();
    await proxy.stop();
    await new Promise((resolve) => server.close(resolve));
  }
}

// ---------------------------------------------------------------------------------------------
// Rate limits: herald in this process, against an HTTP proxy that enforces a Docker Hub-style budget

interface RateLimitFigures {
  images: number;
  limit: number;
  remainingBefore: number;
  low: { checked: number; skipped: number; events: number; requests: number; remainingAfter: number; log: string[] };
  refill: { deferredFirst: boolean; checked: number; skipped: number; updates: number };
  limited: { requests: number; skipped: number; errors: number; log: string[] };
}

async function measureRateLimit(world: World, tmp: string, delayMs: number): Promise<RateLimitFigures> {
  const images = 300;
  const limit = 100;
  const remainingBefore = 60;
  await world.pushUpTo(images);
  const proxy = await startCountingProxy(world.registry.url, { delayMs });
  const file = join(tmp, 'ratelimit.yml');
  writeFileSync(file, configYaml(world, images, join(tmp, 'ratelimit.db'), [], proxy.host));
  const loaded = await loadConfig(file, {});
  const store = Store.open(loaded.config.db.path);
  const lines: Array<{ msg: string; level: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { msg: string; level: number });
      done();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink, pretty: false });
  const client = new RegistryClient({ registries: loaded.config.registries, logger, retries: 0 });
  const run = (): Promise<RunResult> => runOnce({ loaded, store, client, logger });
  const count = (r: RunResult, status: string) => r.report.images.filter((i) => i.status === status).length;
  const warnings = () => lines.filter((l) => l.level === 40).map((l) => l.msg);
  try {
    await run(); // first sighting, no budget
    // A change the budget will hold back: the last image of the list is checked last.
    const last = images - 1;
    await world.change([last], 1000);

    proxy.setRateLimit({ limit, remaining: remainingBefore });
    proxy.reset();
    lines.length = 0;
    const low = await run();
    const lowFigures = {
      checked: images - count(low, 'skipped'),
      skipped: count(low, 'skipped'),
      events: low.events.length,
      requests: proxy.counts.total,
      remainingAfter: proxy.rateLimitRemaining() ?? NaN,
      log: warnings(),
    };
    const deferred = new Set(low.report.images.filter((i) => i.status === 'skipped').map((i) => i.image.slice(i.image.indexOf('/') + 1, i.image.lastIndexOf(':'))));

    proxy.setRateLimit({ limit: 10_000 });
    proxy.reset();
    const refill = await run();
    const firstHeads = proxy.log.filter((e) => e.kind === 'head').slice(0, deferred.size).map((e) => e.path.split('/manifests/')[0]!.slice('/v2/'.length));
    const refillFigures = {
      deferredFirst: firstHeads.length === deferred.size && firstHeads.every((repo) => deferred.has(repo)),
      checked: images - count(refill, 'skipped'),
      skipped: count(refill, 'skipped'),
      updates: count(refill, 'update'),
    };

    proxy.setRateLimit({ limit, remaining: 0, retryAfter: 3600 });
    proxy.reset();
    lines.length = 0;
    const limited = await run();
    return {
      images,
      limit,
      remainingBefore,
      low: lowFigures,
      refill: refillFigures,
      limited: { requests: proxy.counts.total, skipped: count(limited, 'skipped'), errors: count(limited, 'error'), log: warnings() },
    };
  } finally {
    await client.close();
    store.close();
    await proxy.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const per = (count: number, n: number) => (n === 0 ? '-' : (count / n).toFixed(count % n === 0 ? 0 : 2));

function table(rows: Row[], delayMs: number): string {
  const head = ['N', 'C', 'run', 'wall ms', 'N·r/C ms', 'ratio', 'ping', 'token', 'HEAD', 'GET man', 'GET blob', 'per changed: man/blob', 'conns', 'CPU ms herald / registry / proxies', 'peak RSS MB', 'peak heap MB', 'SQLite ms (load+commit)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const bound = (r.n * delayMs) / r.c;
    const { counts: k, figures: f } = r;
    lines.push(
      `| ${[
        r.n, r.c, r.run, f.wallMs.toFixed(0), bound.toFixed(0), (f.wallMs / bound).toFixed(2),
        per(k.ping, r.n), per(k.token, r.n), per(k.head, r.n), per(k.getManifest, r.n), per(k.getBlob, r.n),
        r.changed > 0 ? `${per(k.getManifest, r.changed)} / ${per(k.getBlob, r.changed)}` : '',
        k.connections, `${f.cpuMs.toFixed(0)} / ${r.registryCpuMs.toFixed(0)} / ${r.proxiesCpuMs.toFixed(0)}`, mb(f.peakRss), mb(f.peakHeap), `${(f.stateLoadMs + f.commitMs).toFixed(0)} (${f.stateLoadMs.toFixed(0)}+${f.commitMs.toFixed(0)})`,
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

interface TargetInput {
  rows: Row[];
  delayMs: number;
  floors: Array<{ n: number; c: number } & BareFigures>;
  latency: LatencyFigures | undefined;
  check: CheckFigures | undefined;
  serve: ServeFigures | undefined;
  rateLimit: RateLimitFigures | undefined;
  neighbour: NeighbourFigures | undefined;
  sources: SourcesFigures | undefined;
  tags: TagsFigures | undefined;
  dashboard: DashboardResult | undefined;
  watchRepo?: WatchRepoFigures | undefined;
  startup: StartupFigures | undefined;
}

/** Each performance target against what this bench measured: met, MISSED, or not measured in this run. */
function targets(t: TargetInput): string {
  const lines = ['| target | measured | verdict |', '|---|---|---|'];
  const add = (target: string, measured: string, met: boolean | undefined) => lines.push(`| ${target} | ${measured} | ${met === undefined ? 'not measured' : met ? 'met' : 'MISSED'} |`);
  const unchanged = t.rows.filter((r) => r.run === 'unchanged');
  const changed = t.rows.filter((r) => r.run === 'changed 10%');
  const warm = [...unchanged, ...changed];

  add(
    'unchanged image in serve: exactly 1 HEAD, 0 GETs, no ping or token',
    unchanged.length === 0 ? '-' : `${unchanged.length} runs: HEAD ${[...new Set(unchanged.map((r) => per(r.counts.head, r.n)))].join('/')} per image, GETs ${unchanged.reduce((a, r) => a + r.counts.getManifest + r.counts.getBlob, 0)}, pings ${unchanged.reduce((a, r) => a + r.counts.ping, 0)}, tokens ${unchanged.reduce((a, r) => a + r.counts.token, 0)}` +
      (t.serve ? `; real serve, ${t.serve.n} images: HEAD ${t.serve.counts.head}, GETs ${t.serve.counts.getManifest + t.serve.counts.getBlob}` : ''),
    unchanged.length === 0 ? undefined : unchanged.every((r) => r.counts.head === r.n && r.counts.getManifest + r.counts.getBlob + r.counts.ping + r.counts.token === 0) && (!t.serve || (t.serve.counts.head === t.serve.n && t.serve.counts.getManifest + t.serve.counts.getBlob === 0)),
  );
  if (t.check?.counts) {
    const k = t.check.counts;
    const maxTokens = Math.ceil(t.check.images / 50);
    add(`herald check: at most 1 ping and a few token requests per registry (${t.check.images} repositories, one registry)`, `ping ${k.ping}, token ${k.token} (up to 50 scopes each: at most ${maxTokens})`, k.ping <= 1 && k.token <= maxTokens);
  } else add('herald check: at most 1 ping and a few token requests per registry', '-', undefined);

  const target = unchanged.find((r) => r.n === 1000 && r.c === 16);
  if (target) {
    const bound = (1000 * t.delayMs) / 16;
    const ratio = target.figures.wallMs / bound;
    const floor = t.floors.find((f) => f.n === 1000 && f.c === 16);
    const detail = [`${target.figures.wallMs.toFixed(0)} ms = ${ratio.toFixed(2)} × ${bound.toFixed(0)} ms at r = ${t.delayMs} ms`];
    if (floor) detail.push(`bare client on the same testbed ${(floor.ms / bound).toFixed(2)} ×`);
    if (t.latency) detail.push(`at r = ${t.latency.longDelayMs} ms: herald ${(t.latency.long.wallMs / ((1000 * t.latency.longDelayMs) / 16)).toFixed(2)} ×, bare client ${(t.latency.longFloorMs / ((1000 * t.latency.longDelayMs) / 16)).toFixed(2)} ×`);
    add('warm unchanged run, N = 1000, C = 16: wall ≤ 1.2 × N·r/C', detail.join('; '), ratio <= 1.2);
  } else add('warm unchanged run, N = 1000, C = 16: wall ≤ 1.2 × N·r/C', '-', undefined);

  add(
    'changed image: manifest (index and platform manifest) and config fetched once each, no second HEAD',
    changed.length === 0 ? '-' : changed.map((r) => `N=${r.n} C=${r.c}: ${r.changed} changed (${r.changedMulti} multi-platform), GET manifest ${r.counts.getManifest}, GET blob ${r.counts.getBlob}, HEAD ${r.counts.head}`).slice(0, 3).join('; ') + (changed.length > 3 ? `; … (${changed.length} runs)` : ''),
    changed.length === 0 ? undefined : changed.every((r) => r.counts.getManifest === r.changed + r.changedMulti && r.counts.getBlob === r.changed && r.counts.head === r.n),
  );
  add('serve with 5000 images: RSS under 150 MB', t.serve ? `real serve process, ${t.serve.n} images: peak RSS ${mb(t.serve.vmHwm)} MB` : '-', t.serve && t.serve.n >= 5000 ? t.serve.vmHwm < 150 * 1024 * 1024 : undefined);
  const big = warm.filter((r) => r.n >= 5000);
  const sqlite = (r: Row) => r.figures.stateLoadMs + r.figures.commitMs;
  const firstBig = t.rows.find((r) => r.n >= 5000 && r.run === 'first');
  add(
    'serve with 5000 images: SQLite work per run under 100 ms (one transaction, prepared statements)',
    big.length === 0 ? '-' : `warm runs at N=5000: ${Math.min(...big.map(sqlite)).toFixed(0)}–${Math.max(...big.map(sqlite)).toFixed(0)} ms (state load + commit)` + (firstBig ? `; the first sighting of all 5000 (once per database): ${sqlite(firstBig).toFixed(0)} ms` : ''),
    big.length === 0 ? undefined : big.every((r) => sqlite(r) < 100),
  );
  startupTargets(t.startup, add);
  add('herald check on an empty config: under 400 ms (whole process)', t.check ? `median ${median(t.check.emptyMs).toFixed(0)} ms of ${t.check.emptyMs.length}` : '-', t.check ? median(t.check.emptyMs) < 400 : undefined);
  add(
    'connections reused per registry (keep-alive)',
    warm.length === 0 ? '-' : `new connections in warm runs: ${warm.map((r) => r.counts.connections).join(', ')} (a run may open what its wider pool needs once); ${warm.reduce((a, r) => a + r.n, 0)} requests`,
    warm.length === 0 ? undefined : warm.every((r) => r.counts.connections <= r.c),
  );
  if (t.neighbour) {
    const nb = t.neighbour;
    const share = (nb.fast * t.delayMs) / (nb.workers / 2);
    add('a slow registry cannot starve the others (bounded per registry and globally)', `fast registry done after ${nb.fastDoneMs.toFixed(0)} ms beside a ${nb.slowDelayMs} ms one (even-share bound ${share.toFixed(0)} ms); slow one after ${nb.slowDoneMs.toFixed(0)} ms`, nb.fastDoneMs <= 1.5 * share);
  } else add('a slow registry cannot starve the others', '-', undefined);
  if (t.rateLimit) {
    const r = t.rateLimit;
    add(
      'rate limit: low budget or 429 defers that registry\'s checks with a log line',
      `low budget: ${r.low.skipped} deferred, ${r.low.remainingAfter} of ${r.limit} left; next run deferred first: ${r.refill.deferredFirst ? 'yes' : 'no'}; 429: ${r.limited.requests} request, ${r.limited.skipped} deferred, ${r.limited.errors} errors`,
      r.low.skipped > 0 && r.low.remainingAfter > 0 && r.low.log.length === 1 && r.refill.deferredFirst && r.refill.updates === 1 && r.limited.requests <= 1 + 16 && r.limited.errors === 0 && r.limited.log.length === 1,
    );
  } else add('rate limit: low budget or 429 defers that registry\'s checks', '-', undefined);
  sourceTargets(t.sources, add);
  tagTargets(t.tags, add);
  dashboardTargets(t.dashboard, add);
  watchRepoTargets(t.watchRepo, add);
  return lines.join('\n');
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const load0 = loadavg();
  const tmp = mkdtempSync(join(tmpdir(), 'herald-bench-'));
  const world = await startWorld(opts.delayMs);
  const rows: Row[] = [];
  const floors: Array<{ n: number; c: number } & BareFigures> = [];
  const round = { value: 0 };
  let check: CheckFigures | undefined;
  let serve: ServeFigures | undefined;
  let serveSmall: ServeFigures | undefined;
  let rateLimit: RateLimitFigures | undefined;
  let stub: StubFigures | undefined;
  let latency: LatencyFigures | undefined;
  let neighbour: NeighbourFigures | undefined;
  let sources: SourcesFigures | undefined;
  let tags: TagsFigures | undefined;
  let dashboard: DashboardResult | undefined;
  let watchRepo: WatchRepoFigures | undefined;
  let startup: StartupFigures | undefined;
  try {
    let largest: { n: number; dbPath: string } | undefined;
    let target: { n: number; configFile: string } | undefined;
    for (const n of opts.sizes) {
      const result = await measureSize(world, n, opts.workers, tmp, round);
      rows.push(...result.rows);
      if (result.floor) floors.push({ n, ...result.floor });
      largest = { n, dbPath: result.dbPath };
      if (n === 1000) target = { n, configFile: result.configFile };
    }
    if (target && opts.workers.includes(16)) latency = await measureLatency(world, target.n, 16, target.configFile, opts.delayMs, 50, tmp);
    if (opts.neighbour) neighbour = await measureNeighbour(world, tmp, opts.delayMs);
    if (opts.check) check = await measureCheck(world, tmp);
    if (opts.startup) startup = await measureStartup(world, tmp, HERALD, configYaml, log);
    if (opts.rateLimit) rateLimit = await measureRateLimit(world, tmp, opts.delayMs);
    if (opts.stub) stub = await measureStub(1000, 16, opts.delayMs, tmp);
    if (opts.sources) sources = await measureSources(world, tmp, measureServe, configYaml);
    if (opts.tags) tags = measureTags(ROOT);
    if (opts.dashboard) dashboard = await measureDashboard(HERALD, tmp);
    if (opts.watchRepo) watchRepo = await measureWatchRepo(world, tmp, opts.delayMs);
    if (opts.serve && largest) serve = await measureServe(world, largest.n, largest.dbPath, tmp);
    // WUD's figures on this machine were for 300 images: the same count, in a new database (its
    // start-up run sees them all for the first time, the scheduled run is the warm one).
    if (opts.serve) {
      await world.pushUpTo(300);
      serveSmall = await measureServe(world, 300, join(tmp, 'serve300.db'), tmp);
    }
  } finally {
    await world.stop();
    rmSync(tmp, { recursive: true, force: true });
  }

  const cpu = cpus();
  const out: string[] = [];
  out.push(`herald bench — ${new Date().toISOString()}`);
  out.push(`machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${mb(totalmem())} MB RAM; Node ${process.version}; r = ${opts.delayMs} ms per request (proxy delay)`);
  out.push(`load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  out.push('');
  out.push('Runs in one serve-like process (per image unless noted; the "first" run sees every image for the first time):');
  out.push('');
  out.push(table(rows, opts.delayMs));
  for (const f of floors) {
    const bound = (f.n * opts.delayMs) / f.c;
    const herald = rows.find((r) => r.n === f.n && r.c === f.c && r.run === 'unchanged');
    out.push('');
    out.push(
      `Testbed floor: a bare undici client sending the same ${f.n} HEADs (with tokens), ${f.c} at a time, through the same proxy to the same docker-registry: ` +
        `${f.ms.toFixed(0)} ms (ratio ${(f.ms / bound).toFixed(2)}, CPU ${f.cpuMs.toFixed(0)} ms)` +
        (herald ? `; herald's warm unchanged run: ${herald.figures.wallMs.toFixed(0)} ms (ratio ${(herald.figures.wallMs / bound).toFixed(2)}, CPU ${herald.figures.cpuMs.toFixed(0)} ms).` : '.'),
    );
  }
  if (stub) {
    const bound = (stub.n * opts.delayMs) / stub.c;
    const f = stub.figures;
    out.push('');
    out.push(
      `Against a stub server instead of docker-registry (same ${opts.delayMs} ms proxy; node:http answering every HEAD with a fixed digest): ` +
        `N=${stub.n}, C=${stub.c}, warm unchanged run ${f.wallMs.toFixed(0)} ms, N·r/C ${bound.toFixed(0)} ms, ratio ${(f.wallMs / bound).toFixed(2)} (of which checks ${f.checksMs.toFixed(0)} ms); ` +
        `${stub.heads} HEADs; CPU ms herald ${f.cpuMs.toFixed(0)}, stub and proxy ${stub.serverCpuMs.toFixed(0)}; SQLite ${(f.stateLoadMs + f.commitMs).toFixed(0)} ms. ` +
        `A bare undici client sending the same ${stub.n} HEADs ${stub.c} at a time through the same proxy: ${stub.floorMs.toFixed(0)} ms (ratio ${(stub.floorMs / bound).toFixed(2)}, CPU ${stub.floorCpuMs.toFixed(0)} ms); herald's whole run is ${((f.wallMs / stub.floorMs - 1) * 100).toFixed(0)}% above that.`,
    );
  }
  if (latency) {
    const bound = (latency.n * opts.delayMs) / latency.c;
    const herald = rows.find((r) => r.n === latency.n && r.c === latency.c && r.run === 'unchanged');
    const longBound = (latency.n * latency.longDelayMs) / latency.c;
    out.push('');
    out.push(
      `One HEAD at a time through the ${opts.delayMs} ms proxy to docker-registry (bare client, 100 HEADs) takes ${latency.singleHeadMs.toFixed(1)} ms: ` +
        `with that as r, N·r/C for N=${latency.n}, C=${latency.c} is ${((latency.n * latency.singleHeadMs) / latency.c).toFixed(0)} ms` +
        (herald ? ` and herald's warm run is ${(herald.figures.wallMs / ((latency.n * latency.singleHeadMs) / latency.c)).toFixed(2)} of it (${(herald.figures.wallMs / bound).toFixed(2)} of the nominal bound).` : '.'),
    );
    out.push(
      `At r = ${latency.longDelayMs} ms (the same images and herald, third warm run): ${latency.long.wallMs.toFixed(0)} ms, N·r/C ${longBound.toFixed(0)} ms, ratio ${(latency.long.wallMs / longBound).toFixed(2)}; ` +
        `bare client ${latency.longFloorMs.toFixed(0)} ms (ratio ${(latency.longFloorMs / longBound).toFixed(2)}); CPU ms herald ${latency.long.cpuMs.toFixed(0)}.`,
    );
  }
  if (neighbour) {
    const alone = rows.find((r) => r.n === neighbour!.fast && r.c === neighbour!.workers && r.run === 'unchanged');
    out.push('');
    out.push(
      `A slow registry beside the fast one (workers ${neighbour.workers}, default per-registry bounds): ${neighbour.fast} images at r = ${opts.delayMs} ms and ${neighbour.slow} at r = ${neighbour.slowDelayMs} ms. ` +
        `The fast registry's checks were done after ${neighbour.fastDoneMs.toFixed(0)} ms` +
        (alone ? ` (alone, all ${neighbour.workers} workers: ${alone.figures.wallMs.toFixed(0)} ms; with an even share of ${neighbour.workers / 2} workers the bound is ${((neighbour.fast * opts.delayMs) / (neighbour.workers / 2)).toFixed(0)} ms)` : '') +
        `, the slow one's after ${neighbour.slowDoneMs.toFixed(0)} ms (its bound with ${neighbour.workers / 2} workers: ${((neighbour.slow * neighbour.slowDelayMs) / (neighbour.workers / 2)).toFixed(0)} ms); whole run ${neighbour.wallMs.toFixed(0)} ms.`,
    );
  }
  if (check) {
    const k = check.counts;
    out.push('');
    out.push(`herald check, whole process: empty config median ${median(check.emptyMs).toFixed(0)} ms (min ${Math.min(...check.emptyMs).toFixed(0)}, of ${check.emptyMs.length});`);
    out.push(
      `${check.images} unchanged images (workers 10) median ${median(check.imagesMs).toFixed(0)} ms (min ${Math.min(...check.imagesMs).toFixed(0)}, of ${check.imagesMs.length}); ` +
        (k ? `requests per run: ping ${k.ping}, token ${k.token}, HEAD ${k.head}, GET manifest ${k.getManifest}, GET blob ${k.getBlob}, connections ${k.connections}` : ''),
    );
  }
  for (const sv of [serve, serveSmall]) {
    if (!sv) continue;
    const k = sv.counts;
    out.push('');
    out.push(
      `herald serve, real process, ${sv.n} images (workers 16): runs took ${sv.runsMs.join(' ms, ')} ms (start-up run${sv === serveSmall ? ' seeing every image for the first time' : ' with cold tokens'}, then a scheduled run); ` +
        `peak RSS (VmHWM) ${mb(sv.vmHwm)} MB, RSS after ${mb(sv.vmRss)} MB; scheduled run's requests: ping ${k.ping}, token ${k.token}, HEAD ${k.head}, GET manifest ${k.getManifest}, GET blob ${k.getBlob}`,
    );
  }
  if (rateLimit) {
    const { low, refill, limited } = rateLimit;
    out.push('');
    out.push(`Rate limit (an HTTP proxy enforcing a RateLimit budget on every request, ${rateLimit.images} images, one of them changed):`);
    out.push(
      `- ${rateLimit.remainingBefore} of ${rateLimit.limit} left: ${low.checked} checked, ${low.skipped} deferred (skipped), ${low.events} events, ` +
        `${low.requests} requests spent, ${low.remainingAfter} left (a tenth of the limit is kept back). Log: "${low.log.join('" / "')}"`,
    );
    out.push(
      `- next run, budget refilled: the deferred images were checked first: ${refill.deferredFirst ? 'yes' : 'NO'}; ${refill.checked} checked, ${refill.skipped} skipped, ${refill.updates} update (the change held back before)`,
    );
    out.push(`- budget spent (429, Retry-After 3600 s): ${limited.requests} request, ${limited.skipped} deferred, ${limited.errors} errors. Log: "${limited.log.join('" / "')}"`);
  }
  if (sources) out.push('', ...sourceLines(sources));
  if (tags) out.push('', ...tagLines(tags));
  if (dashboard) out.push('', ...dashboardLines(dashboard));
  if (watchRepo) out.push('', ...watchRepoLines(watchRepo));
  if (startup) out.push('', ...startupLines(startup));
  out.push('');
  out.push('Targets:');
  out.push('');
  out.push(targets({ rows, delayMs: opts.delayMs, floors, latency, check, serve, rateLimit, neighbour, sources, tags, dashboard, watchRepo, startup }));
  out.push('');
  out.push(`bench took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
