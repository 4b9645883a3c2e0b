/**
 * When runs happen in `serve`: on the cron schedule (node-cron, 5 or 6 fields, optional timezone),
 * after a random jitter, and once at start when runOnStartup. Never two runs at once: a tick that
 * comes while a run (or its jitter wait) is under way is skipped and logged.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import { sleep } from '../util/sleep.js';

export interface SchedulerOptions {
  schedule: string;
  timezone?: string;
  jitterMs: number;
  logger: Logger;
  /** One run (of one image only when `image` is given). Must not throw for user-caused problems; a throw is logged as a failed run. */
  run: (signal: AbortSignal, image?: string) => Promise<void>;
}

export class Scheduler {
  private task: ScheduledTask | undefined;
  private current: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly opts: SchedulerOptions) {}

  start(): void {
    const { logger } = this.opts;
    this.task = cron.createTask(this.opts.schedule, () => void this.trigger('schedule'), {
      timezone: this.opts.timezone,
      name: 'herald-run',
    });
    void this.task.start();
    const next = this.task.getNextRun();
    logger.info({ schedule: this.opts.schedule, timezone: this.opts.timezone, nextRun: next?.toISOString() }, 'scheduler started');
  }

  get running(): boolean {
    return this.current !== undefined;
  }

  get nextRun(): Date | null {
    return this.task?.getNextRun() ?? null;
  }

  /** Starts a run (of `image` only, when given) unless one is under way. Resolves when that run ends; false when skipped. */
  async trigger(reason: 'schedule' | 'startup' | 'api', image?: string): Promise<boolean> {
    const { logger } = this.opts;
    if (this.abort.signal.aborted) return false;
    if (this.current !== undefined) {
      logger.warn({ reason }, 'previous run still in progress; skipping this one');
      return false;
    }
    this.current = (async () => {
      if (reason === 'schedule' && this.opts.jitterMs > 0) {
        const delay = Math.floor(Math.random() * this.opts.jitterMs);
        logger.debug({ delayMs: delay }, 'jitter before run');
        await sleep(delay, this.abort.signal);
        if (this.abort.signal.aborted) return;
      }
      try {
        await (image === undefined ? this.opts.run(this.abort.signal) : this.opts.run(this.abort.signal, image));
      } catch (err) {
        logger.error({ err }, `run failed: ${errorMessage(err)}`);
      }
    })().finally(() => {
      this.current = undefined;
    });
    await this.current;
    return true;
  }

  /**
   * Stops scheduling and asks the current run to start no new checks. Waits for it up to
   * `graceMs`; a run still going after that is abandoned, which is safe because a run writes
   * nothing until its single commit at the end.
   */
  async stop(graceMs: number): Promise<'idle' | 'finished' | 'abandoned'> {
    await this.task?.destroy();
    this.task = undefined;
    this.abort.abort();
    if (this.current === undefined) return 'idle';
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.current.then(() => 'finished' as const),
      new Promise<'abandoned'>((resolve) => {
        timer = setTimeout(() => resolve('abandoned'), graceMs);
      }),
    ]);
    clearTimeout(timer);
    return outcome;
  }
}
