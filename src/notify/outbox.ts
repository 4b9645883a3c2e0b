/**
 * The outbox's sender. Deliveries were written with their events (watch/run.ts), so all this does
 * is send what is due, record the outcome, and schedule retries:
 * - success → sent (once per event and notifier; a crash between the send and the record means
 *   one duplicate after restart, with the same X-Herald-Delivery id, never a loss);
 * - NotifyError.permanent (4xx other than 408/429, refused recipient) → failed, no more retries;
 * - anything else → retried with exponential backoff between notify.retry.minDelay and maxDelay,
 *   never sooner than the receiver's Retry-After, until notify.retry.attempts is reached.
 * Deliveries of one notifier go out in order, one at a time; notifiers proceed in parallel.
 */
import type { Logger } from '../util/log.js';
import type { Store } from '../store/index.js';
import type { Delivery } from '../store/deliveries.js';
import type { HeraldEvent } from '../model/event.js';
import { errorMessage } from '../util/errors.js';
import { NotifyError, type Notifier } from './notifier.js';
// Not from watch/scheduler.js: that loads node-cron, which `check` does not need.
import { sleep } from '../util/sleep.js';

export interface RetryPolicy {
  attempts: number;
  minDelay: number;
  maxDelay: number;
}

export interface OutboxOptions {
  store: Store;
  notifiers: readonly Notifier[];
  retry: RetryPolicy;
  logger: Logger;
  now?: () => number;
  /** Called after each delivery attempt (metrics). */
  onAttempt?: (notifier: string, outcome: 'sent' | 'retry' | 'failed') => void;
}

export interface DrainOptions {
  /** Wait out a Retry-After up to this long within the pass instead of scheduling it (check: 10 s). */
  inlineRetryAfterMs?: number;
  /** Stop starting sends after this time (epoch ms). */
  deadline?: number;
}

export interface DrainResult {
  sent: number;
  retried: number;
  failed: number;
}

/** Exponential backoff: minDelay, 2×, 4×… capped at maxDelay, ±10% so retries do not align. */
export function backoffMs(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const base = Math.min(policy.maxDelay, policy.minDelay * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.9 + 0.2 * random()));
}

const MAX_INLINE_RETRIES = 3;

export class Outbox {
  private readonly byName: Map<string, Notifier>;
  private readonly now: () => number;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private draining: Promise<DrainResult> | undefined;
  /**
   * Set by stop(): no pass starts a send after it, whoever started the pass. Without it the
   * background loop's pass, still waiting on a slow receiver when stop() gave up on it, would go on
   * sending after stop() returned, beside the outbox a reload starts on the same store.
   */
  private stopAt: number | undefined;

  constructor(private readonly opts: OutboxOptions) {
    this.byName = new Map(opts.notifiers.map((n) => [n.name, n]));
    this.now = opts.now ?? Date.now;
  }

  /** Would a send started `ahead` ms from now begin after the pass's deadline or stop()'s? */
  private pastDeadline(options: DrainOptions, ahead = 0): boolean {
    const at = this.now() + ahead;
    return (options.deadline !== undefined && at >= options.deadline) || (this.stopAt !== undefined && at >= this.stopAt);
  }

  /** Sends every delivery that is due now. Concurrent calls share one pass. */
  drain(options: DrainOptions = {}): Promise<DrainResult> {
    this.draining ??= this.pass(options).finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async pass(options: DrainOptions): Promise<DrainResult> {
    const result: DrainResult = { sent: 0, retried: 0, failed: 0 };
    const seen = new Set<string>();
    for (;;) {
      if (this.pastDeadline(options)) break;
      // A delivery rescheduled in this pass is not picked again in it: `seen` keeps the pass finite.
      const due = this.opts.store.deliveries.due(this.now(), 200).filter((d) => !seen.has(d.id));
      if (due.length === 0) break;
      for (const d of due) seen.add(d.id);
      const queues = new Map<string, Delivery[]>();
      for (const d of due) {
        const q = queues.get(d.notifier) ?? [];
        q.push(d);
        queues.set(d.notifier, q);
      }
      await Promise.all(
        [...queues.values()].map(async (queue) => {
          for (const d of queue) {
            if (this.pastDeadline(options)) return;
            const outcome = await this.deliver(d, options);
            if (outcome === 'sent') result.sent++;
            else if (outcome === 'retry') result.retried++;
            else result.failed++;
          }
        }),
      );
    }
    return result;
  }

  private async deliver(d: Delivery, options: DrainOptions): Promise<'sent' | 'retry' | 'failed'> {
    const { store, logger, retry } = this.opts;
    const notifier = this.byName.get(d.notifier);
    const events = d.eventIds.map((id) => store.events.get(id)).filter((e): e is HeraldEvent => e !== undefined);
    if (notifier === undefined || events.length === 0) {
      const reason = notifier === undefined ? `notifier "${d.notifier}" is no longer configured` : 'its events no longer exist';
      store.deliveries.markFailed(d.id, reason);
      logger.warn({ delivery: d.id, notifier: d.notifier }, `delivery dropped: ${reason}`);
      this.opts.onAttempt?.(d.notifier, 'failed');
      return 'failed';
    }
    let attempts = d.attempts;
    for (let inline = 0; ; inline++) {
      attempts++;
      try {
        await notifier.send({ deliveryId: d.id, events });
        store.deliveries.markSent(d.id, this.now());
        logger.info({ delivery: d.id, notifier: d.notifier, events: events.length, attempts, waitMs: this.now() - d.createdAtMs }, 'notification sent');
        this.opts.onAttempt?.(d.notifier, 'sent');
        return 'sent';
      } catch (err) {
        const notifyError = err instanceof NotifyError ? err : undefined;
        const message = errorMessage(err);
        if (notifyError === undefined) logger.error({ err, delivery: d.id, notifier: d.notifier }, `notifier failed unexpectedly (a bug): ${message}`);
        const fields = { delivery: d.id, notifier: d.notifier, attempts };
        if (notifyError?.permanent) {
          store.deliveries.markFailed(d.id, message);
          logger.error(fields, `notification failed permanently: ${message}`);
          this.opts.onAttempt?.(d.notifier, 'failed');
          return 'failed';
        }
        if (attempts >= retry.attempts) {
          store.deliveries.markFailed(d.id, `gave up after ${attempts} attempts: ${message}`);
          logger.error(fields, `notification failed after ${attempts} attempts: ${message}`);
          this.opts.onAttempt?.(d.notifier, 'failed');
          return 'failed';
        }
        const retryAfter = notifyError?.retryAfterMs;
        const inlineLimit = options.inlineRetryAfterMs ?? 0;
        const deadlineOk = !this.pastDeadline(options, retryAfter ?? 0);
        if (retryAfter !== undefined && retryAfter <= inlineLimit && inline < MAX_INLINE_RETRIES && deadlineOk) {
          store.deliveries.markRetry(d.id, this.now() + retryAfter, message);
          logger.warn({ ...fields, retryAfterMs: retryAfter }, `notification deferred by the receiver; retrying in ${retryAfter} ms: ${message}`);
          // An attempt like any other, for the metrics: herald_deliveries_total counts what `events` shows.
          this.opts.onAttempt?.(d.notifier, 'retry');
          await sleep(retryAfter);
          continue;
        }
        const delay = Math.max(retryAfter ?? 0, backoffMs(attempts, retry));
        store.deliveries.markRetry(d.id, this.now() + delay, message);
        logger.warn({ ...fields, retryInMs: delay }, `notification failed, will retry: ${message}`);
        this.opts.onAttempt?.(d.notifier, 'retry');
        return 'retry';
      }
    }
  }

  /** serve: keep draining in the background; sleeps until the next delivery is due or wake(). */
  start(): void {
    if (this.loop !== undefined) return;
    this.stopped = false;
    this.stopAt = undefined;
    this.loop = (async () => {
      while (!this.stopped) {
        try {
          await this.drain();
        } catch (err) {
          this.opts.logger.error({ err }, `delivery pass failed: ${errorMessage(err)}`);
        }
        if (this.stopped) break;
        const next = this.opts.store.deliveries.nextDueAt();
        const wait = next === undefined ? 60_000 : Math.min(60_000, Math.max(250, next - this.now()));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.wakeUp = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wakeUp = undefined;
      }
    })();
  }

  /** New deliveries were committed: send them now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  /** Stops the loop, then makes one last pass until `deadline` (epoch ms). */
  async stop(deadline: number): Promise<DrainResult | undefined> {
    this.stopped = true;
    this.stopAt = deadline;
    this.wake();
    // The deadline timers must not outlive stop(): a pending one would keep the process alive.
    const timers = new AbortController();
    const untilDeadline = () => sleep(Math.max(0, deadline - this.now()), timers.signal);
    try {
      const current = this.draining;
      if (current !== undefined) await Promise.race([current, untilDeadline()]);
      await Promise.race([this.loop, untilDeadline()]);
      this.loop = undefined;
      if (this.now() >= deadline) return undefined;
      return await Promise.race([this.drain({ deadline }), untilDeadline().then(() => undefined)]);
    } finally {
      timers.abort();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((n) => n.close().catch(() => undefined)));
  }
}
