import { runOnce } from '../watch/run.js';
import { oneImageRun } from '../watch/one.js';
import { UsageError, UserError } from '../util/errors.js';
import { Parts } from '../daemon/parts.js';
import { imageArgument, loadFromOptions, loggerFor, printJson, type CommandOptions } from './context.js';
import { printCheckReport } from './check-output.js';
import { logsToTerminal } from '../util/log.js';
import { markShortLivedProcess } from '../util/undici.js';

/** check waits out a receiver's Retry-After up to this long; longer ones stay pending for later. */
const INLINE_RETRY_AFTER_MS = 10_000;

export interface CheckOptions extends CommandOptions {
  json?: boolean;
  image?: string;
}

/** `herald check`: one run now, then exit. 0 all ok and nothing undelivered; 1 otherwise. */
export async function check(opts: CheckOptions): Promise<number> {
  performance.mark('herald:check');
  markShortLivedProcess();
  const logger = loggerFor(opts);
  const loaded = await loadFromOptions(opts);
  performance.mark('herald:config');
  const only = opts.image === undefined ? undefined : imageArgument(opts.image);
  const parts = await Parts.open(loaded, { writer: 'check', logger });
  const { store, client, outbox } = parts;
  performance.mark('herald:db');
  try {
    const one = only === undefined ? undefined : await oneImageRun(loaded, parts.sources, logger, only);
    // In a terminal the summary under the table says what the "run finished" log line would.
    const finishedLevel = !opts.json && process.stdout.isTTY === true && logsToTerminal() ? 'debug' : 'info';
    const { report, omittedFailures } = await runOnce({ loaded, store, client, logger, sources: parts.sources }, { ...one?.options, finishedLevel });
    if (only !== undefined && report.images.length === 0) {
      // Whether the tag would have been selected is unknown when its repository could not be listed.
      if (omittedFailures.length > 0) throw new UserError(`cannot check ${only}: ${omittedFailures.join('; ')}`);
      if (one?.watchedRepository !== undefined) {
        throw new UsageError(
          `image ${only} is not watched: ${one.watchedRepository} is watched with watchRepo, and ${only} is not one of its selected tags (${loaded.file})`,
        );
      }
      throw new UsageError(`image ${only} is not in the config (${loaded.file})`);
    }
    // One delivery pass: this run's notifications and whatever earlier runs left pending and due.
    // pending counts everything still waiting in the outbox (this run's and earlier ones'); failed
    // counts what failed for good in this pass, so one old failure does not fail every later check.
    performance.mark('herald:run');
    const { sent, failed: failedNow } = await outbox.drain({ inlineRetryAfterMs: INLINE_RETRY_AFTER_MS });
    const { pending } = store.deliveries.counts();
    const checkReport = { ...report, deliveries: { sent, pending, failed: failedNow } };
    if (opts.json) printJson(checkReport);
    else printCheckReport(report, checkReport.deliveries, loaded.file);
    const failedSources = (report.sources ?? []).filter((s) => s.error !== null);
    const failed = report.images.some((i) => i.status === 'error') || failedSources.length > 0;
    return failed || pending > 0 || failedNow > 0 ? 1 : 0;
  } finally {
    await parts.close();
    performance.mark('herald:closed');
  }
}
