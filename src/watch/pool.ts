export interface KeyedPoolOptions<T, R> {
  /** At most this many items in flight in all (a function: read again whenever a slot may be given). */
  concurrency: number | (() => number);
  /** The group an item belongs to (its registry). */
  keyOf: (item: T) => string;
  /** At most this many items of one group in flight; read again whenever a slot may be given, so it may change during the run. */
  limitOf: (key: string) => number;
  signal?: AbortSignal;
  onSkip?: (item: T) => R;
}

/**
 * Runs `work` over `items` with two bounds: `concurrency` in flight overall, and at most
 * `limitOf(key)` of one group. A free slot goes to the group with the fewest items in flight, so a
 * slow or rate-limited registry holds at most its limit and, while others have work, no more than
 * an even share of the workers: the other registries keep moving.
 * Items of one group start in their order; results keep the items' order. Once `signal` aborts, items
 * not started yet get `onSkip`'s value.
 */
export function mapPoolByKey<T, R>(items: readonly T[], opts: KeyedPoolOptions<T, R>, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  const queues = new Map<string, { key: string; pending: number[]; head: number; running: number }>();
  for (let i = 0; i < items.length; i++) {
    const key = opts.keyOf(items[i]!);
    let q = queues.get(key);
    if (!q) {
      q = { key, pending: [], head: 0, running: 0 };
      queues.set(key, q);
    }
    q.pending.push(i);
  }
  const groups = [...queues.values()];
  const bound = opts.concurrency;
  const concurrency = typeof bound === 'number' ? () => Math.max(1, bound) : () => Math.max(1, bound());
  let active = 0;
  let turn = 0;
  let left = items.length;

  return new Promise<R[]>((resolve, reject) => {
    let failed = false;
    const finish = (): void => {
      if (left === 0 && !failed) resolve(results);
    };
    const pump = (): void => {
      while (!failed && active < concurrency()) {
        // Of the groups with queued items and a free slot, the one with the fewest in flight (ties in
        // turn). A slow registry keeps its slots longer; picking by fewest in flight, not merely in
        // turn, stops it from collecting every freed slot: while another group has work it holds at
        // most an even share, and when the others are done it may use everything its limit allows.
        let picked: (typeof groups)[number] | undefined;
        let pickedAt = 0;
        for (let n = 0; n < groups.length; n++) {
          const g = groups[(turn + n) % groups.length]!;
          if (g.head < g.pending.length && (picked === undefined || g.running < picked.running) && g.running < Math.max(1, opts.limitOf(g.key))) {
            picked = g;
            pickedAt = n;
          }
        }
        if (picked) turn = (turn + pickedAt + 1) % groups.length;
        if (!picked) break;
        const i = picked.pending[picked.head++]!;
        const item = items[i]!;
        if (opts.signal?.aborted && opts.onSkip) {
          results[i] = opts.onSkip(item);
          left--;
          continue;
        }
        const group = picked;
        group.running++;
        active++;
        work(item, i).then(
          (r) => {
            results[i] = r;
            group.running--;
            active--;
            left--;
            pump();
            finish();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
      finish();
    };
    pump();
  });
}
