/**
 * `herald check` as a whole process against a bare Node process that only sends the same HEADs: what
 * a cron job or a Kubernetes CronJob pays per run. 300 unchanged images, one registry (the world's
 * docker-registry in token mode behind its latency proxy), 16 workers. Both are spawned as child
 * processes, alternately, and timed from spawn to exit; the figure is the best of ROUNDS each (and the
 * median beside it), so that what other work on the machine adds shows least.
 *
 * The bare process is bench/floor-client.js with one round: Node starting, undici loading, 300
 * keep-alive HEADs 16 at a time with tokens minted beforehand (herald has to ask for its own), exit.
 * Both are started with `--import bench/startup-trace.js`, which reports the process's peak RSS
 * (getrusage) at exit, so its small cost is on both sides. With BENCH_STARTUP_TRACE=1 it also
 * reports herald's phases: when the config was loaded, the database opened, the ping and token
 * requests, the first and last HEAD answered, the process exited.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchImage, type World } from './world.js';

const here = dirname(fileURLToPath(import.meta.url));
const IMAGES = 300;
const WORKERS = 16;
const ROUNDS = 7;
/** The target: herald's whole check within this many times the bare process (best of each). */
export const STARTUP_TARGET_RATIO = 1.3;
/** The target: the check process's peak RSS at most this. */
export const STARTUP_RSS_TARGET = 120 * 1024 * 1024;

export interface ProcessRun {
  ms: number;
  /** Peak RSS in bytes. */
  rss: number;
}

export interface StartupFigures {
  images: number;
  workers: number;
  herald: ProcessRun[];
  bare: ProcessRun[];
  /** Phases of each traced herald run (ms since the process started), when BENCH_STARTUP_TRACE is set. */
  traces: Array<Record<string, number>>;
}

/** Spawns `node --import startup-trace.js args…` and times it from spawn to exit. */
function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; stdout: string; stderr: string; trace: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', join(here, 'startup-trace.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      const line = stderr.split('\n').find((l) => l.startsWith('{"startupTrace"'));
      const trace = line ? (JSON.parse(line) as { startupTrace: Record<string, number> }).startupTrace : {};
      resolve({ ms, code, stdout, stderr, trace });
    });
  });
}

/** Tokens for images 0..n-1, minted the way herald batches them (50 repositories a token). */
function mintTokens(world: World, n: number, file: string): void {
  const ts = world.registry.tokenServer!;
  const tokens: string[] = [];
  for (let first = 0; first < n; first += 50) {
    const access = Array.from({ length: Math.min(50, n - first) }, (_, k) => ({ type: 'repository', name: benchImage(first + k).repo, actions: ['pull'] }));
    tokens.push(ts.issueToken(world.username, access, 600));
  }
  writeFileSync(file, JSON.stringify(tokens));
}

export async function measureStartup(
  world: World,
  tmp: string,
  herald: string,
  configYaml: (world: World, n: number, dbPath: string) => string,
  log: (msg: string) => void,
): Promise<StartupFigures> {
  await world.pushUpTo(IMAGES);
  const cfg = join(tmp, 'startup.yml');
  writeFileSync(cfg, configYaml(world, IMAGES, join(tmp, 'startup.db')));
  const tokens = join(tmp, 'startup-tokens.json');
  mintTokens(world, IMAGES, tokens);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
  const trace = process.env.BENCH_STARTUP_TRACE !== undefined;
  const heraldArgs = [herald, 'check', '-c', cfg, '--json'];
  const bareArgs = [join(here, 'floor-client.js'), world.proxy.url, String(IMAGES), String(WORKERS), tokens, '1'];

  const runHerald = async (): Promise<ProcessRun & { trace: Record<string, number> }> => {
    const r = await timed(heraldArgs, env);
    if (r.code !== 0) throw new Error(`herald check (${IMAGES} images) exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
    const report = JSON.parse(r.stdout) as { images: Array<{ status: string }> };
    const unchanged = report.images.filter((i) => i.status === 'unchanged').length;
    if (unchanged !== IMAGES) throw new Error(`herald check: ${unchanged} of ${IMAGES} unchanged`);
    return { ms: r.ms, rss: r.trace.maxRss ?? NaN, trace: r.trace };
  };
  const runBare = async (): Promise<ProcessRun> => {
    const r = await timed(bareArgs, env);
    if (r.code !== 0) throw new Error(`bare client exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
    return { ms: r.ms, rss: r.trace.maxRss ?? NaN };
  };

  // The first check sees every image for the first time (new); one more of each warms the disk cache.
  const first = await timed(heraldArgs, env);
  if (first.code !== 0) throw new Error(`herald check (first) exited ${first.code}: ${first.stderr.slice(0, 2000)}`);
  await runHerald();
  await runBare();
  const figures: StartupFigures = { images: IMAGES, workers: WORKERS, herald: [], bare: [], traces: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternating, and which goes first alternates too.
    const order = i % 2 === 0 ? (['herald', 'bare'] as const) : (['bare', 'herald'] as const);
    for (const who of order) {
      if (who === 'herald') {
        const r = await runHerald();
        figures.herald.push({ ms: r.ms, rss: r.rss });
        if (trace) {
          const { maxRss: _, ...phases } = r.trace;
          figures.traces.push(phases);
        }
      } else figures.bare.push(await runBare());
    }
    log(`startup round ${i + 1}: herald ${figures.herald.at(-1)!.ms.toFixed(0)} ms, bare ${figures.bare.at(-1)!.ms.toFixed(0)} ms`);
  }
  return figures;
}

const best = (runs: ProcessRun[]) => Math.min(...runs.map((r) => r.ms));
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (b: number) => (Number.isNaN(b) ? '?' : (b / 1024 / 1024).toFixed(0));

export function startupLines(f: StartupFigures): string[] {
  const h = best(f.herald);
  const b = best(f.bare);
  const out = [
    `herald check --json as a whole process vs a bare Node process sending the same ${f.images} HEADs (tokens minted for it), ${f.workers} at a time, through the same proxy; ` +
      `spawned alternately, ${f.herald.length} each: herald best ${h.toFixed(0)} ms (median ${med(f.herald.map((r) => r.ms)).toFixed(0)}), ` +
      `bare best ${b.toFixed(0)} ms (median ${med(f.bare.map((r) => r.ms)).toFixed(0)}), ratio ${(h / b).toFixed(2)} (medians ${(med(f.herald.map((r) => r.ms)) / med(f.bare.map((r) => r.ms))).toFixed(2)}); ` +
      `peak RSS herald ${mb(Math.max(...f.herald.map((r) => r.rss)))} MB, bare ${mb(Math.max(...f.bare.map((r) => r.rss)))} MB.`,
  ];
  if (f.traces.length > 0) {
    const keys = Object.keys(f.traces[0]!);
    out.push(`herald's phases (ms since process start, median of ${f.traces.length}): ${keys.map((k) => `${k} ${med(f.traces.map((t) => t[k] ?? NaN)).toFixed(0)}`).join(', ')}`);
  }
  return out;
}

export function startupTargets(f: StartupFigures | undefined, add: (target: string, measured: string, met: boolean | undefined) => void): void {
  const target = `herald check, ${IMAGES} unchanged images, whole process: ≤ ${STARTUP_TARGET_RATIO} × a bare client process (best of each), peak RSS ≤ ${STARTUP_RSS_TARGET / 1024 / 1024} MB`;
  if (!f) return add(target, '-', undefined);
  const h = best(f.herald);
  const b = best(f.bare);
  const rss = Math.max(...f.herald.map((r) => r.rss));
  add(target, `${h.toFixed(0)} ms vs ${b.toFixed(0)} ms = ${(h / b).toFixed(2)} ×; peak RSS ${mb(rss)} MB`, h / b <= STARTUP_TARGET_RATIO && (Number.isNaN(rss) || rss <= STARTUP_RSS_TARGET));
}
