/**
 * Loaded with `node --import` in front of a whole process the bench times (herald check, the bare
 * client): at exit it writes the process's CPU time (user + system, ms) and peak RSS to the file named
 * by BENCH_CPU_OUT. Nothing else; without the variable it does nothing.
 */
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_CPU_OUT;
if (out) {
  process.on('exit', () => {
    const u = process.resourceUsage();
    writeFileSync(out, JSON.stringify({ cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, userMs: u.userCPUTime / 1000, maxRssKb: u.maxRSS }));
  });
}
