/**
 * Runs `work` over `items` with at most `concurrency` in flight. Results keep the items' order.
 * Stops starting new items once `signal` aborts; items never started get `onSkip`'s value.
 */
export async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
  opts: { signal?: AbortSignal; onSkip?: (item: T) => R } = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i]!;
      if (opts.signal?.aborted && opts.onSkip) {
        results[i] = opts.onSkip(item);
        continue;
      }
      results[i] = await work(item, i);
    }
  };
  const n = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}
