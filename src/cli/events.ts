import { parseReference } from '../registry/reference.js';
import { UsageError } from '../errors.js';
import { loadFromOptions, openStore, optionsOf, print, printJson, shortDigest, table } from './context.js';

export async function events(...args: unknown[]): Promise<number> {
  const opts = optionsOf(args);
  const limit = Number(opts.limit ?? '20');
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a positive integer, got "${opts.limit}"`);
  let image: string | undefined;
  if (opts.image !== undefined) {
    try {
      image = parseReference(opts.image).name;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const store = openStore(await loadFromOptions(opts));
  try {
    const list = store.events.recent(limit, image);
    if (opts.json) {
      printJson(list.map((e) => ({ ...e, deliveries: store.deliveries.forEvent(e.id) })));
    } else if (list.length === 0) {
      print('no events yet');
    } else {
      print(
        table(
          ['DETECTED', 'STATUS', 'IMAGE', 'PLATFORM', 'CHANGE', 'DELIVERIES'],
          list.map((e) => {
            const ds = store.deliveries.forEvent(e.id);
            const change = e.status === 'error' ? (e.error ?? '') : e.previousDigest ? `${shortDigest(e.previousDigest)} → ${shortDigest(e.digest)}` : shortDigest(e.digest);
            const delivered = ds.length === 0 ? '-' : ds.map((d) => `${d.notifier}:${d.status}`).join(' ');
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
