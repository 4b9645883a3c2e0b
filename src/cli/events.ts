import { UsageError } from '../util/errors.js';
import { shortDigest } from '../model/digest.js';
import { deliveryView, type Delivery } from '../store/deliveries.js';
import { formatDuration } from '../util/duration.js';
import { Store } from '../store/index.js';
import { imageArgument, loadFromOptions, print, printJson, table, type CommandOptions } from './context.js';

export interface EventsOptions extends CommandOptions {
  json?: boolean;
  /** As typed; commander's default is '20'. */
  limit: string;
  image?: string;
}

export async function events(opts: EventsOptions): Promise<number> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got "${opts.limit}"`);
  const image = opts.image === undefined ? undefined : imageArgument(opts.image);
  const store = Store.open((await loadFromOptions(opts)).config.db.path);
  try {
    const list = store.events.recent(limit, image);
    if (opts.json) {
      printJson(list.map((e) => ({ ...e, deliveries: store.deliveries.forEvent(e.id).map(deliveryView) })));
    } else if (list.length === 0) {
      print('no events yet');
    } else {
      print(
        table(
          ['DETECTED', 'STATUS', 'IMAGE', 'PLATFORM', 'CHANGE', 'DELIVERIES'],
          list.map((e) => {
            const ds = store.deliveries.forEvent(e.id);
            const change = e.status === 'error' ? (e.error ?? '') : e.previousDigest ? `${shortDigest(e.previousDigest)} → ${shortDigest(e.digest)}` : shortDigest(e.digest);
            const delivered = ds.length === 0 ? '-' : ds.map(deliverySummary).join(', ');
            return [e.detectedAt, e.status, e.image, e.platform, change, delivered];
          }),
        ),
      );
    }
    return 0;
  } finally {
    store.close();
  }
}

function deliverySummary(d: Delivery): string {
  const v = deliveryView(d);
  const tries = `${v.attempts} attempt${v.attempts === 1 ? '' : 's'}`;
  if (d.status === 'sent') return `${d.notifier} sent after ${formatDuration(v.waitMs)} (${tries})`;
  if (d.status === 'failed') return `${d.notifier} failed (${tries}): ${d.lastError ?? ''}`;
  return `${d.notifier} pending ${formatDuration(v.waitMs)} (${tries}${d.lastError ? `, last: ${d.lastError}` : ''})`;
}
