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
 *
 * BENCH_STARTUP_BASELINE=/other/checkout/bin/herald adds an older herald to the same rounds (with its
 * own database): a before/after comparison measured side by side.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintBareClientTokens, runNode, type World } from './world.js';

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

/** One herald build's runs: the one under test, or a baseline given with BENCH_STARTUP_BASELINE. */
export interface HeraldRuns {
  bin: string;
  runs: ProcessRun[];
  /** Phases of each run (ms since the process started), when BENCH_STARTUP_TRACE is set. */
  traces: Array<Record<string, number>>;
}

export interface StartupFigures {
  images: number;
  workers: number;
  herald: HeraldRuns;
  /** BENCH_STARTUP_BASELINE=/other/checkout/bin/herald: an older herald, in the same rounds (its own database). */
  baseline?: HeraldRuns;
  bare: ProcessRun[];
}

/** Spawns `node --import startup-trace.js args…` and times it from spawn to exit. */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null; stdout: string; stderr: string; trace: Record<string, number> }> {
  const run = await runNode(join(here, 'startup-trace.js'), args, env);
  const line = run.stderr.split('\n').find((l) => l.startsWith('{"startupTrace"'));
  const trace = line ? (JSON.parse(line) as { startupTrace: Record<string, number> }).startupTrace : {};
  return { ...run, trace };
}

export async function measureStartup(
  world: World,
  tmp: string,
  herald: string,
  configYaml: (world: World, n: number, dbPath: string) => string,
  log: (msg: string) => void,
): Promise<StartupFigures> {
  await world.pushUpTo(IMAGES);
  const tokens = join(tmp, 'startup-tokens.json');
  mintBareClientTokens(world, IMAGES, tokens);
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
  const trace = process.env.BENCH_STARTUP_TRACE !== undefined;
  const bareArgs = [join(here, 'floor-client.js'), world.proxy.url, String(IMAGES), String(WORKERS), tokens, '1'];

  type Contender = HeraldRuns & { first(): Promise<void>; run(): Promise<{ ms: number; rss: number; trace: Record<string, number> }> };
  const contender = (bin: string, name: string): Contender => {
    // Each build its own database: an older one need not know the newer one's migrations.
    const cfg = join(tmp, `${name}.yml`);
    writeFileSync(cfg, configYaml(world, IMAGES, join(tmp, `${name}.db`)));
    const args = [bin, 'check', '-c', cfg, '--json'];
    return {
      bin,
      runs: [],
      traces: [],
      async first() {
        const r = await timed(args, env);
        if (r.code !== 0) throw new Error(`${bin} check (first) exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
      },
      async run() {
        const r = await timed(args, env);
        if (r.code !== 0) throw new Error(`${bin} check (${IMAGES} images) exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
        const report = JSON.parse(r.stdout) as { images: Array<{ status: string }> };
        const unchanged = report.images.filter((i) => i.status === 'unchanged').length;
        if (unchanged !== IMAGES) throw new Error(`${bin} check: ${unchanged} of ${IMAGES} unchanged`);
        return { ms: r.ms, rss: r.trace.maxRss ?? NaN, trace: r.trace };
      },
    };
  };
  const runBare = async (): Promise<ProcessRun> => {
    const r = await timed(bareArgs, env);
    if (r.code !== 0) throw new Error(`bare client exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
    return { ms: r.ms, rss: r.trace.maxRss ?? NaN };
  };

  const mine = contender(herald, 'startup');
  const baselineBin = process.env.BENCH_STARTUP_BASELINE;
  const older = baselineBin ? contender(baselineBin, 'startup-baseline') : undefined;
  const heralds = older ? [mine, older] : [mine];
  // The first check sees every image for the first time (new); one more of each warms the disk cache.
  for (const h of heralds) {
    await h.first();
    await h.run();
  }
  await runBare();
  const figures: StartupFigures = { images: IMAGES, workers: WORKERS, herald: mine, ...(older ? { baseline: older } : {}), bare: [] };
  for (let i = 0; i < ROUNDS; i++) {
    // Alternating, and which goes first alternates too.
    const order: Array<Contender | 'bare'> = [...heralds, 'bare'];
    if (i % 2 === 1) order.reverse();
    for (const who of order) {
      if (who === 'bare') {
        figures.bare.push(await runBare());
        continue;
      }
      const r = await who.run();
      who.runs.push({ ms: r.ms, rss: r.rss });
      if (trace) {
        const { maxRss: _, ...phases } = r.trace;
        who.traces.push(phases);
      }
    }
    log(`startup round ${i + 1}: herald ${mine.runs.at(-1)!.ms.toFixed(0)} ms${older ? `, baseline ${older.runs.at(-1)!.ms.toFixed(0)} ms` : ''}, bare ${figures.bare.at(-1)!.ms.toFixed(0)} ms`);
  }
  return figures;
}

const best = (runs: ProcessRun[]) => Math.min(...runs.map((r) => r.ms));
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb = (b: number) => (Number.isNaN(b) ? '?' : (b / 1024 / 1024).toFixed(0));

function heraldLine(label: string, h: HeraldRuns, bare: ProcessRun[]): string[] {
  const ms = h.runs.map((r) => r.ms);
  const out = [
    `- ${label}: best ${best(h.runs).toFixed(0)} ms (median ${med(ms).toFixed(0)}), ratio to the bare process ${(best(h.runs) / best(bare)).toFixed(2)} (medians ${(med(ms) / med(bare.map((r) => r.ms))).toFixed(2)}); peak RSS ${mb(Math.max(...h.runs.map((r) => r.rss)))} MB`,
  ];
  if (h.traces.length > 0) {
    const keys = Object.keys(h.traces[0]!).filter((k) => k !== 'heads');
    out.push(`  phases (ms since the process started, median of ${h.traces.length}): ${keys.map((k) => `${k} ${med(h.traces.map((t) => t[k] ?? NaN)).toFixed(0)}`).join(', ')}`);
  }
  return out;
}

export function startupLines(f: StartupFigures): string[] {
  return [
    `herald check --json, whole processes, ${f.images} unchanged images, ${f.workers} at a time, against a bare Node process sending the same HEADs through the same proxy (tokens minted for it); spawned alternately, ${f.bare.length} rounds:`,
    `- bare process: best ${best(f.bare).toFixed(0)} ms (median ${med(f.bare.map((r) => r.ms)).toFixed(0)}); peak RSS ${mb(Math.max(...f.bare.map((r) => r.rss)))} MB`,
    ...heraldLine(`herald (${f.herald.bin})`, f.herald, f.bare),
    ...(f.baseline ? heraldLine(`baseline herald (${f.baseline.bin})`, f.baseline, f.bare) : []),
  ];
}

export function startupTargets(f: StartupFigures | undefined, add: (target: string, measured: string, met: boolean | undefined) => void): void {
  const target = `herald check, ${IMAGES} unchanged images, whole process: ≤ ${STARTUP_TARGET_RATIO} × a bare client process (best of each), peak RSS ≤ ${STARTUP_RSS_TARGET / 1024 / 1024} MB`;
  if (!f) return add(target, '-', undefined);
  const h = best(f.herald.runs);
  const b = best(f.bare);
  const rss = Math.max(...f.herald.runs.map((r) => r.rss));
  add(target, `${h.toFixed(0)} ms vs ${b.toFixed(0)} ms = ${(h / b).toFixed(2)} ×; peak RSS ${mb(rss)} MB`, h / b <= STARTUP_TARGET_RATIO && (Number.isNaN(rss) || rss <= STARTUP_RSS_TARGET));
}
