/**
 * Watching a repository's tags, as whole processes side by side (issue 15, part 5): `herald check`
 * with 300 watchRepo images (newerOnly, sortTags semver; each its own repository with one tag, so a
 * check is one tags listing and one HEAD of the image's own tag) against a bare keep-alive undici
 * client (bench/floor-client.ts) sending the same 600 requests with pre-minted tokens, through the
 * same 20 ms delay proxy to the same docker-registry. herald runs with its default concurrency.
 *
 * The rounds alternate herald (300 images), the bare client at each concurrency, and herald with one
 * image: the CPU per image beyond start-up is (CPU of the 300-image check − CPU of the 1-image
 * check) / 299, each from the process's own resourceUsage at exit (bench/cpu-preload.ts). Each round
 * also runs the bare client the way herald's transport sends (dispatch(), herald check's V8 flags),
 * with 300 images and with 1: the same HTTP with nothing of herald around it, so what herald adds is
 * the difference.
 * Medians of the rounds; every herald run must report every image unchanged.
 *
 * BENCH_HERALD_BEFORE=/path/to/other/checkout/bin/herald adds that herald to every round (its own
 * databases, same registry): a before/after comparison in one run.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { benchImage, mintBareClientTokens, runNode, type World } from './world.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(here, '..', '..');
const HERALD = join(ROOT, 'bin', 'herald');
const PRELOAD = pathToFileURL(join(here, 'cpu-preload.js')).href;

export const WATCHREPO_IMAGES = 300;
const ROUNDS = 5;
/** Requests in flight for the bare client: herald's default workers (10), two per image at that, and all 600 at once (as WUD sends them). */
const BARE_CONCURRENCY = [10, 20, 2 * WATCHREPO_IMAGES];
export const WALL_TARGET = 1.3;
export const CPU_PER_IMAGE_TARGET_MS = 1;

export interface ProcessRun {
  ms: number;
  cpuMs: number;
}

export interface WatchRepoFigures {
  images: number;
  delayMs: number;
  herald: ProcessRun[];
  /** herald check with one watchRepo image: start-up and the fixed cost of a run. */
  heraldOne: ProcessRun[];
  bare: Record<number, ProcessRun[]>;
  /** Another herald (BENCH_HERALD_BEFORE), with 300 images and with 1. */
  before?: { bin: string; herald: ProcessRun[]; heraldOne: ProcessRun[] };
  /** The bare client with one image (two requests): its own start-up, for its CPU per image. */
  bareOne: ProcessRun[];
  /** The same bare client sending as herald's transport does (dispatch, herald check's V8 flags), 20 in flight: 300 images and 1. */
  floor: ProcessRun[];
  floorOne: ProcessRun[];
  /** Requests of herald's last 300-image check, by kind. */
  counts: ReturnType<World['counts']>;
  loadBefore: number[];
  loadAfter: number[];
}

/** The bench's config for n images of `world`: watchRepo images (newerOnly, sortTags semver), or with `watchRepo` false plain tags (one HEAD each). */
export function configText(world: World, n: number, dbPath: string, watchRepo = true): string {
  const lines = [
    `db: { path: ${JSON.stringify(dbPath)} }`,
    'defaults: { platform: linux/amd64 }',
    'registries:',
    '  - name: bench',
    `    host: "${world.proxy.host}"`,
    '    insecure: true',
    `    username: ${world.username}`,
    `    password: "${world.password}"`,
    'images:',
  ];
  for (let i = 0; i < n; i++) {
    const img = benchImage(i);
    lines.push(`  - name: ${world.proxy.host}/${img.repo}:${img.tag}`);
    if (watchRepo) lines.push('    watchRepo: true', '    newerOnly: true', '    sortTags: semver');
  }
  return `${lines.join('\n')}\n`;
}

/** Runs a node process with the CPU preload; wall time from spawn to exit. */
export async function timed(args: string[], tmp: string, expectCode = 0): Promise<ProcessRun & { stdout: string }> {
  const out = join(tmp, 'cpu.json');
  rmSync(out, { force: true });
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_CPU_OUT: out };
  // herald reads HERALD_* as config overrides and refuses unknown ones.
  for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
  const { ms, code, stdout, stderr } = await runNode(PRELOAD, args, env);
  if (code !== expectCode) throw new Error(`${args.slice(0, 2).join(' ')} exited ${code}: ${stderr.slice(0, 2000)}`);
  const { cpuMs } = JSON.parse(readFileSync(out, 'utf8')) as { cpuMs: number };
  return { ms, cpuMs, stdout };
}

async function heraldCheck(configFile: string, n: number, tmp: string, bin = HERALD): Promise<ProcessRun> {
  const run = await timed([bin, 'check', '--json', '-c', configFile], tmp);
  const report = JSON.parse(run.stdout) as { images: Array<{ status: string }> };
  const unchanged = report.images.filter((i) => i.status === 'unchanged').length;
  if (report.images.length !== n || unchanged !== n) {
    const statuses: Record<string, number> = {};
    for (const i of report.images) statuses[i.status] = (statuses[i.status] ?? 0) + 1;
    throw new Error(`watchRepo check of ${n} images reported ${JSON.stringify(statuses)}, expected ${n} unchanged`);
  }
  return { ms: run.ms, cpuMs: run.cpuMs };
}

export async function measureWatchRepo(world: World, tmp: string, delayMs: number, rounds = ROUNDS): Promise<WatchRepoFigures> {
  const n = WATCHREPO_IMAGES;
  await world.pushUpTo(n);
  const loadBefore = loadavg();
  const big = join(tmp, 'watchrepo.yml');
  const one = join(tmp, 'watchrepo-one.yml');
  writeFileSync(big, configText(world, n, join(tmp, 'watchrepo.db')));
  writeFileSync(one, configText(world, 1, join(tmp, 'watchrepo-one.db')));
  // Tokens for the bare client, minted like herald's batches (50 repositories each).
  const tokensFile = mintBareClientTokens(world, n, join(tmp, 'watchrepo-tokens.json'), 3600);
  const bareRun = (c: number, images = n, transport?: 'dispatch') => timed([join(here, 'floor-client.js'), world.proxy.url, String(images), String(c), tokensFile, '1', 'tags', ...(transport ? [transport] : [])], tmp);

  // First sightings (state and repository listings stored), then one warm-up round of everything.
  await timed([HERALD, 'check', '-c', big], tmp);
  await timed([HERALD, 'check', '-c', one], tmp);
  await heraldCheck(big, n, tmp);
  await heraldCheck(one, 1, tmp);
  const beforeBin = process.env.BENCH_HERALD_BEFORE;
  const before = beforeBin ? { bin: beforeBin, herald: [] as ProcessRun[], heraldOne: [] as ProcessRun[], big: join(tmp, 'watchrepo-before.yml'), one: join(tmp, 'watchrepo-before-one.yml') } : undefined;
  if (before) {
    writeFileSync(before.big, configText(world, n, join(tmp, 'watchrepo-before.db')));
    writeFileSync(before.one, configText(world, 1, join(tmp, 'watchrepo-before-one.db')));
    await timed([before.bin, 'check', '-c', before.big], tmp);
    await timed([before.bin, 'check', '-c', before.one], tmp);
  }
  for (const c of BARE_CONCURRENCY) await bareRun(c);

  const herald: ProcessRun[] = [];
  const heraldOne: ProcessRun[] = [];
  const bare: Record<number, ProcessRun[]> = {};
  const bareOne: ProcessRun[] = [];
  const floor: ProcessRun[] = [];
  const floorOne: ProcessRun[] = [];
  let counts = world.counts();
  for (let r = 0; r < rounds; r++) {
    if (before) before.herald.push(await heraldCheck(before.big, n, tmp, before.bin));
    world.reset();
    herald.push(await heraldCheck(big, n, tmp));
    counts = world.counts();
    for (const c of BARE_CONCURRENCY) {
      const b = await bareRun(c);
      (bare[c] ??= []).push({ ms: b.ms, cpuMs: b.cpuMs });
    }
    heraldOne.push(await heraldCheck(one, 1, tmp));
    if (before) before.heraldOne.push(await heraldCheck(before.one, 1, tmp, before.bin));
    const b1 = await bareRun(BARE_CONCURRENCY[1]!, 1);
    bareOne.push({ ms: b1.ms, cpuMs: b1.cpuMs });
    const fl = await bareRun(BARE_CONCURRENCY[1]!, n, 'dispatch');
    floor.push({ ms: fl.ms, cpuMs: fl.cpuMs });
    const fl1 = await bareRun(BARE_CONCURRENCY[1]!, 1, 'dispatch');
    floorOne.push({ ms: fl1.ms, cpuMs: fl1.cpuMs });
    log(`watchRepo round ${r + 1}: herald ${herald.at(-1)!.ms.toFixed(0)} ms (CPU ${herald.at(-1)!.cpuMs.toFixed(0)}), bare ${BARE_CONCURRENCY.map((c) => `C=${c} ${bare[c]!.at(-1)!.ms.toFixed(0)}`).join(', ')} ms, herald 1 image ${heraldOne.at(-1)!.ms.toFixed(0)} ms (CPU ${heraldOne.at(-1)!.cpuMs.toFixed(0)})`);
  }
  return {
    images: n, delayMs, herald, heraldOne, bare, bareOne, floor, floorOne, counts, loadBefore, loadAfter: loadavg(),
    ...(before ? { before: { bin: before.bin, herald: before.herald, heraldOne: before.heraldOne } } : {}),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const med = (runs: ProcessRun[], key: keyof ProcessRun) => median(runs.map((r) => r[key]));

export function cpuPerImageMs(f: WatchRepoFigures): number {
  return (med(f.herald, 'cpuMs') - med(f.heraldOne, 'cpuMs')) / (f.images - 1);
}

/** The bare client's CPU per image beyond its own start-up (same requests, at 20 in flight, undici's request API with TurboFan). */
export function bareCpuPerImageMs(f: WatchRepoFigures): number {
  return (med(f.bare[BARE_CONCURRENCY[1]!]!, 'cpuMs') - med(f.bareOne, 'cpuMs')) / (f.images - 1);
}

/** The same HTTP sent as herald's transport sends it (dispatch, no TurboFan), 20 in flight: the floor for herald's CPU per image. */
export function floorCpuPerImageMs(f: WatchRepoFigures): number {
  return (med(f.floor, 'cpuMs') - med(f.floorOne, 'cpuMs')) / (f.images - 1);
}

export function watchRepoLines(f: WatchRepoFigures): string[] {
  const k = f.counts;
  const hMs = med(f.herald, 'ms');
  const lines = [
    `watchRepo, whole processes side by side (${f.images} images, each its own repository with watchRepo, newerOnly, sortTags semver; r = ${f.delayMs} ms; medians of ${f.herald.length} alternating rounds; load average ${f.loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${f.loadAfter.map((l) => l.toFixed(2)).join(' ')} after):`,
    '',
    '| process | wall ms (median) | best | CPU ms (median) | wall / herald |',
    '|---|---|---|---|---|',
    `| herald check, ${f.images} images (default concurrency) | ${hMs.toFixed(0)} | ${Math.min(...f.herald.map((r) => r.ms)).toFixed(0)} | ${med(f.herald, 'cpuMs').toFixed(0)} | 1.00 |`,
    `| herald check, 1 image (start-up and fixed cost) | ${med(f.heraldOne, 'ms').toFixed(0)} | ${Math.min(...f.heraldOne.map((r) => r.ms)).toFixed(0)} | ${med(f.heraldOne, 'cpuMs').toFixed(0)} | ${(med(f.heraldOne, 'ms') / hMs).toFixed(2)} |`,
  ];
  if (f.before) {
    const b = f.before;
    lines.push(`| before (${b.bin}), ${f.images} images | ${med(b.herald, 'ms').toFixed(0)} | ${Math.min(...b.herald.map((r) => r.ms)).toFixed(0)} | ${med(b.herald, 'cpuMs').toFixed(0)} | ${(med(b.herald, 'ms') / hMs).toFixed(2)} |`);
    lines.push(`| before, 1 image | ${med(b.heraldOne, 'ms').toFixed(0)} | ${Math.min(...b.heraldOne.map((r) => r.ms)).toFixed(0)} | ${med(b.heraldOne, 'cpuMs').toFixed(0)} | ${(med(b.heraldOne, 'ms') / hMs).toFixed(2)} |`);
  }
  for (const [c, runs] of Object.entries(f.bare)) {
    lines.push(`| bare client, ${2 * f.images} requests, ${c} in flight | ${med(runs, 'ms').toFixed(0)} | ${Math.min(...runs.map((r) => r.ms)).toFixed(0)} | ${med(runs, 'cpuMs').toFixed(0)} | ${(med(runs, 'ms') / hMs).toFixed(2)} |`);
  }
  lines.push(`| bare client via dispatch() and herald check's V8 flags, ${2 * f.images} requests, ${BARE_CONCURRENCY[1]} in flight | ${med(f.floor, 'ms').toFixed(0)} | ${Math.min(...f.floor.map((r) => r.ms)).toFixed(0)} | ${med(f.floor, 'cpuMs').toFixed(0)} | ${(med(f.floor, 'ms') / hMs).toFixed(2)} |`);
  lines.push(
    '',
    `herald's requests per run: ping ${k.ping}, token ${k.token}, tags ${k.tags}, HEAD ${k.head}, GET manifest ${k.getManifest}, GET blob ${k.getBlob} (${((k.tags + k.head) / f.images).toFixed(2)} listing+HEAD per image), connections ${k.connections}; ` +
      `CPU per image beyond start-up ${cpuPerImageMs(f).toFixed(2)} ms (the bare client's, for the same two requests: ${bareCpuPerImageMs(f).toFixed(2)} ms through undici's request API, ${floorCpuPerImageMs(f).toFixed(2)} ms sent as herald sends them; from its runs with ${f.images} and 1 image).`,
  );
  if (f.before) {
    const b = f.before;
    const fastest = Math.min(...Object.values(f.bare).map((runs) => med(runs, 'ms')));
    lines.push(`Before: wall ${(med(b.herald, 'ms') / fastest).toFixed(2)} × the bare client's fastest, CPU per image beyond start-up ${((med(b.herald, 'cpuMs') - med(b.heraldOne, 'cpuMs')) / (f.images - 1)).toFixed(2)} ms.`);
  }
  return lines;
}

export function watchRepoTargets(f: WatchRepoFigures | undefined, add: (target: string, measured: string, met: boolean | undefined) => void): void {
  const wallTarget = `watchRepo check, ${WATCHREPO_IMAGES} images: wall ≤ ${WALL_TARGET} × a bare keep-alive client's for the same ${2 * WATCHREPO_IMAGES} requests (at its fastest of ${BARE_CONCURRENCY.join(', ')} in flight), whole processes`;
  const cpuTarget = `watchRepo check: CPU per image ≤ ${CPU_PER_IMAGE_TARGET_MS} ms beyond start-up (whole process, ${WATCHREPO_IMAGES} images minus 1)`;
  if (!f) {
    add(wallTarget, '-', undefined);
    add(cpuTarget, '-', undefined);
    return;
  }
  const hMs = med(f.herald, 'ms');
  const ratios = Object.entries(f.bare).map(([c, runs]) => `${c} in flight ${(hMs / med(runs, 'ms')).toFixed(2)} ×`);
  const fastest = Math.min(...Object.values(f.bare).map((runs) => med(runs, 'ms')));
  const ratio = hMs / fastest;
  add(wallTarget, `herald ${hMs.toFixed(0)} ms vs bare client: ${ratios.join(', ')}`, ratio <= WALL_TARGET);
  const perImage = cpuPerImageMs(f);
  add(cpuTarget, `${perImage.toFixed(2)} ms (${med(f.herald, 'cpuMs').toFixed(0)} ms − ${med(f.heraldOne, 'cpuMs').toFixed(0)} ms over ${f.images - 1}); the bare client's ${bareCpuPerImageMs(f).toFixed(2)} ms (request API), ${floorCpuPerImageMs(f).toFixed(2)} ms (sent as herald sends)`, perImage <= CPU_PER_IMAGE_TARGET_MS);
}

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}
