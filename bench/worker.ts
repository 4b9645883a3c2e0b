/**
 * One herald, as `serve` runs it: one config, one store and one registry client for every run, so
 * tokens and connections stay warm between runs. It lives in its own process so its memory figures
 * are herald's alone (the registry proxies and the token server run in the orchestrator).
 *
 * Messages from the orchestrator: { cmd: 'run', workers } → a RunFigures message; { cmd: 'exit' }.
 */
import { createWriteStream } from 'node:fs';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/util/log.js';
import { RegistryClient } from '../src/registry/client.js';
import { Store } from '../src/store/index.js';
import { runOnce } from '../src/watch/run.js';
import { tuneHeapForDaemon } from '../src/daemon/runtime.js';

export interface RunFigures {
  /** When the run started (epoch ms, sub-ms precision): to time other processes' observations against. */
  startedAt: number;
  wallMs: number;
  statuses: Record<string, number>;
  stateLoadMs: number;
  commitMs: number;
  prepareMs: number;
  /** Time in the check pool (from the first check started to the last one finished). */
  checksMs: number;
  /** The process's peak RSS so far (getrusage ru_maxrss), in bytes: covers this run and the ones before. */
  peakRss: number;
  /** Highest heapUsed sampled during the run (every 50 ms), in bytes. */
  peakHeap: number;
  /** CPU time (user + system) herald's process spent on the run, in ms. */
  cpuMs: number;
}

type Command = { cmd: 'run'; workers: number } | { cmd: 'exit' };

async function main(): Promise<void> {
  tuneHeapForDaemon(); // as `herald serve` does
  const [configFile, logFile] = process.argv.slice(2);
  if (configFile === undefined || logFile === undefined) throw new Error('usage: worker CONFIG LOGFILE');
  const loaded = await loadConfig(configFile, {});
  const store = Store.open(loaded.config.db.path, { writer: 'serve' });
  // Logs as serve writes them (info, JSON lines), to a file instead of stderr.
  const logger = createLogger({ level: 'info', destination: createWriteStream(logFile), pretty: false });
  const client = new RegistryClient({ registries: loaded.config.registries, logger });

  process.on('message', (msg: Command) => {
    if (msg.cmd === 'exit') {
      void client.close().then(() => {
        store.close();
        process.exit(0);
      });
      return;
    }
    void (async () => {
      loaded.config.watch.workers = msg.workers;
      for (const r of loaded.config.registries) r.concurrency = msg.workers;
      // Peak RSS comes from the kernel (getrusage: this process's high-water mark so far); the heap is
      // sampled every 50 ms (reading it is not free, and the sampler must not load the run it measures).
      let peakHeap = 0;
      const sample = (): void => {
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
      };
      sample();
      const timer = setInterval(sample, 50);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const { report, timings } = await runOnce({ loaded, store, client, logger });
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      clearInterval(timer);
      sample();
      const statuses: Record<string, number> = {};
      for (const i of report.images) statuses[i.status] = (statuses[i.status] ?? 0) + 1;
      const figures: RunFigures = {
        startedAt: performance.timeOrigin + t0,
        wallMs,
        statuses,
        stateLoadMs: timings.stateLoadMs,
        commitMs: timings.commitMs,
        prepareMs: timings.prepareMs,
        checksMs: timings.checksMs,
        peakRss: process.resourceUsage().maxRSS * 1024,
        peakHeap,
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
      process.send!({ type: 'figures', figures });
    })().catch((err: unknown) => {
      process.send!({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    });
  });
  process.send!({ type: 'ready' });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
