/**
 * Interleaved whole-process comparison of herald builds, for changes too small for one bench run
 * to show (on this 2-core machine a 1-image check's CPU moves by ±15 % within minutes, so runs of
 * two builds minutes apart cannot be compared; runs alternated one by one can).
 *
 *   npm run bench:ab -- [--rounds 11] [--digest] BIN_A [BIN_B ...]
 *   e.g. git worktree add /tmp/before HEAD~3 && ln -s "$PWD/node_modules" /tmp/before/ && (cd /tmp/before && node scripts/build.mjs)
 *        npm run bench:ab -- /tmp/before/bin/herald bin/herald
 *
 * It starts the bench's world (docker-registry with token auth behind a 20 ms proxy, bench/world.ts),
 * gives each build its own databases, runs one unmeasured check of each config first (first
 * sightings), then per round, for each build in turn: `herald check --json` of 300 images and of 1
 * image (watchRepo, newerOnly, sortTags semver as in the bench's watchRepo section; `--digest`: plain
 * tag checks, one HEAD each). CPU is each process's own (bench/cpu-preload.ts). It prints, per build,
 * the medians and the CPU per image beyond start-up: (median CPU of 300 − median CPU of 1) / 299.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configText, timed, type ProcessRun } from './watchrepo.js';
import { startWorld } from './world.js';

const N = 300;

/** `herald check --json` of one config, with its CPU (herald's HERALD_* variables are dropped by timed()). */
const check = (bin: string, config: string, tmp: string): Promise<ProcessRun> => timed([bin, 'check', '--json', '-c', config], tmp);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let rounds = 11;
  let watchRepo = true;
  const bins: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--rounds') rounds = Number(args[++i]);
    else if (args[i] === '--digest') watchRepo = false;
    else bins.push(resolve(args[i]!));
  }
  if (bins.length === 0 || !Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write('usage: npm run bench:ab -- [--rounds N] [--digest] BIN_A [BIN_B ...]\n');
    process.exitCode = 2;
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'herald-ab-'));
  const world = await startWorld(20);
  try {
    await world.pushUpTo(N);
    const builds = bins.map((bin, k) => {
      const big = join(tmp, `b${k}-big.yml`);
      const one = join(tmp, `b${k}-one.yml`);
      writeFileSync(big, configText(world, N, join(tmp, `b${k}-big.db`), watchRepo));
      writeFileSync(one, configText(world, 1, join(tmp, `b${k}-one.db`), watchRepo));
      return { bin, big, one, bigRuns: [] as ProcessRun[], oneRuns: [] as ProcessRun[] };
    });
    for (const b of builds) {
      await check(b.bin, b.big, tmp);
      await check(b.bin, b.one, tmp);
    }
    const load = loadavg();
    for (let r = 0; r < rounds; r++) {
      for (const b of builds) {
        b.bigRuns.push(await check(b.bin, b.big, tmp));
        b.oneRuns.push(await check(b.bin, b.one, tmp));
      }
      process.stderr.write(`[ab] round ${r + 1}/${rounds}\n`);
    }
    const lines = [`${watchRepo ? 'watchRepo' : 'digest'} checks, ${N} images and 1, ${rounds} interleaved rounds; load average ${load.map((l) => l.toFixed(2)).join(' ')} before, ${loadavg().map((l) => l.toFixed(2)).join(' ')} after`];
    for (const b of builds) {
      const big = median(b.bigRuns.map((x) => x.cpuMs));
      const one = median(b.oneRuns.map((x) => x.cpuMs));
      lines.push(`${b.bin}: CPU ${big.toFixed(0)} ms (${N}) and ${one.toFixed(0)} ms (1), ${((big - one) / (N - 1)).toFixed(2)} ms per image beyond start-up; wall ${median(b.bigRuns.map((x) => x.ms)).toFixed(0)} ms (${N})`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await world.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
