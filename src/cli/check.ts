import { RegistryClient } from '../registry/client.js';
import { runOnce } from '../watch/run.js';
import { UsageError } from '../errors.js';
import { closeHttpAgent } from '../notify/http.js';

/** check waits out a receiver's Retry-After up to this long; longer ones stay pending for later. */
const INLINE_RETRY_AFTER_MS = 10_000;
import { imageArgument, loadFromOptions, loggerFor, openDispatcher, openStore, optionsOf, print, printJson, shortDigest, table } from './context.js';

/** `herald check`: one run now, then exit. 0 all ok and nothing undelivered; 1 otherwise. */
export async function check(...args: unknown[]): Promise<number> {
  const opts = optionsOf(args);
  const logger = loggerFor(opts);
  const loaded = await loadFromOptions(opts);
  const only = opts.image === undefined ? undefined : imageArgument(opts.image);
  const store = openStore(loaded, 'check');
  const client = new RegistryClient({ registries: loaded.config.registries, logger });
  const dispatcher = await openDispatcher(loaded, store, logger);
  try {
    const { report } = await runOnce(
      { loaded, store, client, logger },
      only === undefined ? {} : { only: (image) => image.ref.name === only },
    );
    if (only !== undefined && report.images.length === 0) {
      throw new UsageError(`image ${only} is not in the config (${loaded.file})`);
    }
    // One delivery pass: this run's notifications and whatever earlier runs left pending and due.
    // pending counts everything still waiting in the outbox (this run's and earlier ones'); failed
    // counts what failed for good in this pass, so one old failure does not fail every later check.
    const { sent, failed: failedNow } = await dispatcher.drain({ inlineRetryAfterMs: INLINE_RETRY_AFTER_MS });
    const { pending } = store.deliveries.counts();
    report.deliveries = { sent, pending, failed: failedNow };
    if (opts.json) printJson(report);
    else {
      if (report.images.length === 0) print(`no images to check in ${loaded.file}`);
      else print(
        table(
          ['IMAGE', 'PLATFORM', 'STATUS', 'DIGEST', 'DETAIL'],
          report.images.map((i) => [
            i.image, i.platform, i.status, shortDigest(i.digest),
            i.status === 'update' ? `was ${shortDigest(i.previousDigest)}` : (i.error ?? ''),
          ]),
        ),
      );
      const { pending, failed } = report.deliveries;
      if (pending + failed > 0) print(`${pending} notification(s) pending, ${failed} failed`);
    }
    const failed = report.images.some((i) => i.status === 'error');
    return failed || pending > 0 || failedNow > 0 ? 1 : 0;
  } finally {
    await dispatcher.close();
    await closeHttpAgent();
    await client.close();
    store.close();
  }
}
