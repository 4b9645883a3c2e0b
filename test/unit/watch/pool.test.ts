import { describe, expect, it } from 'vitest';
import { mapPoolByKey } from '../../../src/watch/pool.js';

/** A task that stays in flight until released, so tests can look at what runs at one moment. */
function gate() {
  const waiting: Array<{ item: string; release: () => void }> = [];
  const run = (item: string) =>
    new Promise<string>((resolve) => {
      waiting.push({ item, release: () => resolve(item.toUpperCase()) });
    });
  return { waiting, run };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('mapPoolByKey', () => {
  it('bounds the work per key and overall, and keeps the order of results', async () => {
    const items = ['a1', 'a2', 'a3', 'a4', 'b1', 'b2', 'c1'];
    const g = gate();
    const done = mapPoolByKey(items, { concurrency: 4, keyOf: (s) => s[0]!, limitOf: (k) => (k === 'a' ? 2 : 1) }, (s) => g.run(s));
    await tick();
    // a is held to 2 and b to 1, so c gets the fourth slot although a has more queued.
    expect(g.waiting.map((w) => w.item).sort()).toEqual(['a1', 'a2', 'b1', 'c1']);
    g.waiting.find((w) => w.item === 'a1')!.release();
    await tick();
    expect(g.waiting.map((w) => w.item)).toContain('a3');
    expect(g.waiting.map((w) => w.item)).not.toContain('a4');
    for (let n = 0; n < 10 && g.waiting.length < items.length; n++) {
      for (const w of g.waiting) w.release();
      await tick();
    }
    for (const w of g.waiting) w.release();
    expect(await done).toEqual(items.map((s) => s.toUpperCase()));
  });

  it('a key stuck on slow work leaves the other keys every remaining slot', async () => {
    const items = [...Array.from({ length: 10 }, (_, i) => `slow${i}`), ...Array.from({ length: 10 }, (_, i) => `fast${i}`)];
    const slow: Array<() => void> = [];
    const fastDone: string[] = [];
    const done = mapPoolByKey(
      items,
      { concurrency: 4, keyOf: (s) => (s.startsWith('slow') ? 'slow' : 'fast'), limitOf: () => 2 },
      (s) =>
        s.startsWith('slow')
          ? new Promise<string>((resolve) => slow.push(() => resolve(s)))
          : Promise.resolve(s).then((v) => (fastDone.push(v), v)),
    );
    for (let n = 0; n < 20; n++) await tick();
    expect(slow).toHaveLength(2); // never more than its share
    expect(fastDone).toHaveLength(10); // the other registry finished meanwhile
    while (slow.length > 0) {
      slow.shift()!();
      await tick();
    }
    expect(await done).toEqual(items);
  });

  it('with limits as wide as the pool (the default), a slow key holds no more than an even share', async () => {
    // The default per-registry bound equals watch.workers: the limit alone does not protect the
    // fast registry; the choice of who gets a freed slot must.
    const items = [...Array.from({ length: 40 }, (_, i) => `slow${i}`), ...Array.from({ length: 200 }, (_, i) => `fast${i}`)];
    const slow: Array<() => void> = [];
    let slowInFlight = 0;
    let maxSlowWhileFastQueued = 0;
    let fastStarted = 0;
    const done = mapPoolByKey(
      items,
      { concurrency: 8, keyOf: (s) => (s.startsWith('slow') ? 'slow' : 'fast'), limitOf: () => 8 },
      (s) => {
        if (s.startsWith('slow')) {
          slowInFlight++;
          if (fastStarted < 200) maxSlowWhileFastQueued = Math.max(maxSlowWhileFastQueued, slowInFlight);
          return new Promise<string>((resolve) => slow.push(() => (slowInFlight--, resolve(s))));
        }
        fastStarted++;
        return tick().then(() => s);
      },
    );
    for (let n = 0; n < 400 && fastStarted < 200; n++) await tick();
    expect(fastStarted).toBe(200); // the fast key went through all its work meanwhile
    expect(maxSlowWhileFastQueued).toBe(4); // half of 8, never more
    await tick();
    // Once the fast key is done, the slow one may use every slot.
    expect(slow).toHaveLength(8);
    while (slow.length > 0) {
      slow.shift()!();
      for (let n = 0; n < 3; n++) await tick();
    }
    expect(await done).toEqual(items);
  });

  it('skips what is not started once the signal aborts, and handles empty input', async () => {
    expect(await mapPoolByKey([], { concurrency: 3, keyOf: () => 'k', limitOf: () => 1 }, async () => 1)).toEqual([]);
    const ac = new AbortController();
    const results = await mapPoolByKey(
      [1, 2, 3, 4],
      { concurrency: 1, keyOf: () => 'k', limitOf: () => 1, signal: ac.signal, onSkip: () => -1 },
      async (n) => {
        if (n === 2) ac.abort();
        return n;
      },
    );
    expect(results).toEqual([1, 2, -1, -1]);
  });

  it('rejects with the first error', async () => {
    await expect(mapPoolByKey([1, 2, 3], { concurrency: 2, keyOf: () => 'k', limitOf: () => 2 }, async (n) => {
      if (n === 2) throw new Error('boom');
      return n;
    })).rejects.toThrow('boom');
  });
});
