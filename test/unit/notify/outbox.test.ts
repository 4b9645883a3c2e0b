/**
 * The outbox's sender, against a real store on a temp-dir SQLite database and notifiers written
 * here (herald's own seam: { name, type, send, close }). Time is the injectable clock, except where
 * the outbox really waits (an inline Retry-After, stop's deadline): those waits are kept short and
 * every one of them is bounded. State is read back from the store, as `herald events` shows it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Store } from '../../../src/store/index.js';
import type { Delivery } from '../../../src/store/deliveries.js';
import type { HeraldEvent } from '../../../src/model/event.js';
import { NotifyError, type Notifier, type NotifierMessage } from '../../../src/notify/notifier.js';
import { backoffMs, Outbox, type OutboxOptions, type RetryPolicy } from '../../../src/notify/outbox.js';
import { silentLogger } from '../../../src/util/log.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const POLICY: RetryPolicy = { attempts: 10, minDelay: 1_000, maxDelay: 5_000 };

let dir: string;
let store: Store;
let clock: number;
/** Delivery id → the event it was committed with, to find it again through store.deliveries.forEvent. */
let firstEventOf: Map<string, string>;
/** Every onAttempt call, as "notifier outcome". */
let attempts: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-outbox-'));
  store = Store.open(join(dir, 'herald.db'));
  clock = T0;
  firstEventOf = new Map();
  attempts = [];
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

function event(id: string, at = clock): HeraldEvent {
  return {
    id, status: 'update', image: `registry.test/team/${id}:1`, registry: 'registry.test', repository: `team/${id}`, tag: '1',
    digest: `sha256:${'b'.repeat(64)}`, previousDigest: `sha256:${'a'.repeat(64)}`, platform: 'linux/amd64', platformDigest: null,
    previousPlatformDigest: null, mediaType: null, created: null, labels: {}, hubLink: null, metadata: {}, detectedAt: new Date(at).toISOString(), error: null,
  };
}

/** One run's write: its events and deliveries in one transaction, as watch/run.ts commits them. */
function commit(deliveries: Array<{ id: string; notifier: string; events?: string[] }>, at = clock): void {
  const events: HeraldEvent[] = [];
  const planned = deliveries.map((d) => {
    const eventIds = d.events ?? [`ev-${d.id}`];
    for (const id of eventIds) {
      if (store.events.get(id) === undefined && !events.some((e) => e.id === id)) events.push(event(id, at));
    }
    firstEventOf.set(d.id, eventIds[0]!);
    return { id: d.id, notifier: d.notifier, eventIds };
  });
  store.commitRun({ states: [], events, deliveries: planned }, at);
}

function delivery(id: string): Delivery {
  const found = store.deliveries.forEvent(firstEventOf.get(id)!).find((d) => d.id === id);
  if (found === undefined) throw new Error(`no delivery ${id} in the store`);
  return found;
}

interface TestNotifier extends Notifier {
  /** Every send, in the order they started: delivery id, its events' ids, the clock then. */
  calls: Array<{ deliveryId: string; eventIds: string[]; at: number }>;
  messages: NotifierMessage[];
  maxInFlight: number;
  inFlight: number;
}

/** A notifier that records its sends; `answer` decides how the nth send (1-based) ends. */
function notifier(name: string, answer: (n: number, msg: NotifierMessage) => void | Promise<void> = () => undefined): TestNotifier {
  const n: TestNotifier = {
    name,
    type: 'test',
    calls: [],
    messages: [],
    maxInFlight: 0,
    inFlight: 0,
    async send(msg) {
      n.calls.push({ deliveryId: msg.deliveryId, eventIds: msg.events.map((e) => e.id), at: clock });
      n.messages.push(msg);
      n.inFlight++;
      n.maxInFlight = Math.max(n.maxInFlight, n.inFlight);
      try {
        await answer(n.calls.length, msg);
      } finally {
        n.inFlight--;
      }
    },
    async close() {},
  };
  return n;
}

function failing(name: string, error: () => Error): TestNotifier {
  return notifier(name, () => {
    throw error();
  });
}

function outbox(notifiers: Notifier[], retry: RetryPolicy = POLICY, extra: Partial<OutboxOptions> = {}): Outbox {
  return new Outbox({
    store, notifiers, retry, logger: silentLogger, now: () => clock,
    onAttempt: (name, outcome) => attempts.push(`${name} ${outcome}`),
    ...extra,
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise the test resolves by hand, for a send that should hang until the test says so. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves once `cond` holds; fails the test after `ms`. */
async function within(ms: number, what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

describe('outbox: sending', () => {
  it('sends a due delivery once, with its events, and marks it sent', async () => {
    const hook = notifier('hook');
    commit([{ id: 'd1', notifier: 'hook', events: ['e1'] }]);
    clock += 250;
    const out = outbox([hook]);

    expect(await out.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(hook.messages).toEqual([{ deliveryId: 'd1', events: [event('e1', T0)] }]);
    expect(delivery('d1')).toMatchObject({ status: 'sent', attempts: 1, sentAtMs: T0 + 250, lastError: null, createdAtMs: T0 });

    // Sent is final: later passes leave it alone.
    clock += 3_600_000;
    expect(await out.drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(hook.calls).toHaveLength(1);
    expect(store.deliveries.counts()).toEqual({ pending: 0, sent: 1, failed: 0 });
  });

  it('sends a batch delivery as one message carrying all its events', async () => {
    const mail = notifier('mail');
    commit([{ id: 'b1', notifier: 'mail', events: ['e1', 'e2', 'e3'] }]);
    expect(await outbox([mail]).drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(mail.calls).toHaveLength(1);
    expect([...mail.calls[0]!.eventIds].sort()).toEqual(['e1', 'e2', 'e3']);
    expect(delivery('b1').status).toBe('sent');
  });

  it('does not send a delivery before it is due', async () => {
    const hook = failing('hook', () => new NotifyError('answered 503'));
    commit([{ id: 'd1', notifier: 'hook' }]);
    const out = outbox([hook]);
    await out.drain();
    const due = delivery('d1').nextAttemptAtMs;
    clock = due - 1;
    expect(await out.drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(hook.calls).toHaveLength(1);
    clock = due;
    expect(await out.drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(hook.calls).toHaveLength(2);
  });
});

describe('outbox: retries', () => {
  it('reschedules a retryable failure with exponential backoff from minDelay up to maxDelay, ±10%', async () => {
    const hook = failing('hook', () => new NotifyError('answered 503: busy'));
    commit([{ id: 'd1', notifier: 'hook' }]);
    const out = outbox([hook]);
    const bases = [1_000, 2_000, 4_000, 5_000, 5_000, 5_000];
    for (const [i, base] of bases.entries()) {
      expect(await out.drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
      const d = delivery('d1');
      expect(d).toMatchObject({ status: 'pending', attempts: i + 1, lastError: 'answered 503: busy', sentAtMs: null });
      const wait = d.nextAttemptAtMs - clock;
      expect(wait, `delay after attempt ${i + 1}`).toBeGreaterThanOrEqual(base * 0.9);
      expect(wait, `delay after attempt ${i + 1}`).toBeLessThanOrEqual(base * 1.1);
      clock = d.nextAttemptAtMs;
    }
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(bases.map(() => 'd1'));
  });

  it('retries a notifier that throws something other than a NotifyError (a bug) instead of dropping the delivery', async () => {
    const hook = notifier('hook', (n) => {
      if (n === 1) throw new TypeError('cannot read properties of undefined');
    });
    commit([{ id: 'd1', notifier: 'hook' }]);
    const out = outbox([hook]);
    expect(await out.drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(delivery('d1')).toMatchObject({ status: 'pending', attempts: 1, lastError: 'cannot read properties of undefined' });
    clock = delivery('d1').nextAttemptAtMs;
    expect(await out.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(delivery('d1')).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
  });

  it('never retries sooner than the Retry-After the receiver asked for', async () => {
    const hook = failing('hook', () => new NotifyError('answered 429', { retryAfterMs: 30_000 }));
    commit([{ id: 'd1', notifier: 'hook' }]);
    expect(await outbox([hook]).drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
    // Backoff alone would say about 1 s; the receiver said 30 s.
    expect(delivery('d1').nextAttemptAtMs - clock).toBe(30_000);
  });

  it('keeps the backoff when the Retry-After is shorter than it', async () => {
    const hook = failing('hook', () => new NotifyError('answered 429', { retryAfterMs: 10 }));
    commit([{ id: 'd1', notifier: 'hook' }]);
    expect(await outbox([hook]).drain()).toEqual({ sent: 0, retried: 1, failed: 0 });
    const wait = delivery('d1').nextAttemptAtMs - clock;
    expect(wait).toBeGreaterThanOrEqual(900);
    expect(wait).toBeLessThanOrEqual(1_100);
  });

  it('marks a permanent failure failed with its reason, and never tries it again', async () => {
    const hook = failing('hook', () => new NotifyError('answered 404: no such hook', { permanent: true }));
    commit([{ id: 'd1', notifier: 'hook' }]);
    const out = outbox([hook]);
    expect(await out.drain()).toEqual({ sent: 0, retried: 0, failed: 1 });
    expect(delivery('d1')).toMatchObject({ status: 'failed', attempts: 1, lastError: 'answered 404: no such hook', sentAtMs: null });
    clock += 24 * 3_600_000;
    expect(await out.drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(hook.calls).toHaveLength(1);
    expect(store.deliveries.counts()).toEqual({ pending: 0, sent: 0, failed: 1 });
  });

  it('gives up after retry.attempts, counting the attempts of earlier processes', async () => {
    const retry = { attempts: 3, minDelay: 1_000, maxDelay: 5_000 };
    commit([{ id: 'd1', notifier: 'hook' }]);
    const results = [];
    let calls = 0;
    // A new outbox (and notifier) per attempt: the count lives in the database, not in the process.
    for (let i = 0; i < 3; i++) {
      const hook = failing('hook', () => new NotifyError('answered 502'));
      results.push(await outbox([hook], retry).drain());
      calls += hook.calls.length;
      clock = Math.max(clock, delivery('d1').nextAttemptAtMs);
    }
    expect(results).toEqual([
      { sent: 0, retried: 1, failed: 0 },
      { sent: 0, retried: 1, failed: 0 },
      { sent: 0, retried: 0, failed: 1 },
    ]);
    expect(calls).toBe(3);
    expect(delivery('d1')).toMatchObject({ status: 'failed', attempts: 3, lastError: 'gave up after 3 attempts: answered 502' });

    clock += 3_600_000;
    const later = notifier('hook');
    expect(await outbox([later], retry).drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
    expect(later.calls).toHaveLength(0);
  });

  it('fails, with a reason, a delivery whose notifier is no longer configured, and still sends the others', async () => {
    const hook = notifier('hook');
    commit([{ id: 'old', notifier: 'old-hook' }, { id: 'd1', notifier: 'hook' }]);
    expect(await outbox([hook]).drain()).toEqual({ sent: 1, retried: 0, failed: 1 });
    expect(delivery('old')).toMatchObject({ status: 'failed', lastError: 'notifier "old-hook" is no longer configured', sentAtMs: null });
    expect(delivery('d1').status).toBe('sent');
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['d1']);
    expect(attempts.sort()).toEqual(['hook sent', 'old-hook failed']);
  });
});

describe('outbox: order and concurrency', () => {
  it("sends one notifier's deliveries in the order they were written, one at a time", async () => {
    const hook = notifier('hook', () => sleep(3));
    commit([{ id: 'a1', notifier: 'hook' }, { id: 'a2', notifier: 'hook' }, { id: 'a3', notifier: 'hook' }]);
    clock += 1_000;
    commit([{ id: 'a4', notifier: 'hook' }, { id: 'a5', notifier: 'hook' }]);
    clock += 1_000;
    expect(await outbox([hook]).drain()).toEqual({ sent: 5, retried: 0, failed: 0 });
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5']);
    expect(hook.maxInFlight).toBe(1);
  });

  it('lets two notifiers send at the same time, each still one at a time and in order', async () => {
    // Each send waits (at most 1 s) until both notifiers have one in flight: sequential notifiers
    // would never get there, and the in-flight counts below would say so.
    let inFlight = 0;
    let maxInFlight = 0;
    const bothBusy = gate();
    const send = async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (hook.inFlight > 0 && chat.inFlight > 0) bothBusy.open();
      await Promise.race([bothBusy.promise, sleep(1_000)]);
      inFlight--;
    };
    const hook = notifier('hook', send);
    const chat = notifier('chat', send);
    commit([
      { id: 'h1', notifier: 'hook' }, { id: 'c1', notifier: 'chat' },
      { id: 'h2', notifier: 'hook' }, { id: 'c2', notifier: 'chat' },
    ]);
    const started = Date.now();
    expect(await outbox([hook, chat]).drain()).toEqual({ sent: 4, retried: 0, failed: 0 });
    expect(maxInFlight).toBe(2);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect([hook.maxInFlight, chat.maxInFlight]).toEqual([1, 1]);
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['h1', 'h2']);
    expect(chat.calls.map((c) => c.deliveryId)).toEqual(['c1', 'c2']);
  });

  it('shares one pass between two drain() calls made at once', async () => {
    const release = gate();
    const hook = notifier('hook', (n) => (n === 1 ? release.promise : undefined));
    commit([{ id: 'd1', notifier: 'hook' }]);
    const out = outbox([hook]);
    const first = out.drain();
    const second = out.drain();
    await within(1_000, 'the first send', () => hook.calls.length === 1);
    release.open();
    const results = await Promise.all([first, second]);
    expect(results).toEqual([{ sent: 1, retried: 0, failed: 0 }, { sent: 1, retried: 0, failed: 0 }]);
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['d1']);
    expect(delivery('d1')).toMatchObject({ status: 'sent', attempts: 1 });

    // Once that pass is over, the next drain() is a pass of its own.
    commit([{ id: 'd2', notifier: 'hook' }]);
    expect(await out.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['d1', 'd2']);
  });
});

describe('outbox: Retry-After within the pass (check)', () => {
  it('waits out a Retry-After up to inlineRetryAfterMs and sends again in the same pass', async () => {
    const hook = notifier('hook', (n) => {
      if (n === 1) throw new NotifyError('answered 429', { retryAfterMs: 200 });
    });
    commit([{ id: 'd1', notifier: 'hook' }]);
    const started = Date.now();
    expect(await outbox([hook]).drain({ inlineRetryAfterMs: 1_000 })).toEqual({ sent: 1, retried: 0, failed: 0 });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(195);
    expect(took).toBeLessThan(5_000);
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['d1', 'd1']);
    expect(delivery('d1')).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
  });

  it('schedules a Retry-After longer than inlineRetryAfterMs instead of waiting for it', async () => {
    const hook = failing('hook', () => new NotifyError('answered 503', { retryAfterMs: 5_000 }));
    commit([{ id: 'd1', notifier: 'hook' }]);
    const started = Date.now();
    expect(await outbox([hook]).drain({ inlineRetryAfterMs: 1_000 })).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(hook.calls).toHaveLength(1);
    expect(delivery('d1')).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAtMs: clock + 5_000 });
  });

  it('does not wait out a Retry-After that would end past the deadline', async () => {
    const hook = failing('hook', () => new NotifyError('answered 429', { retryAfterMs: 200 }));
    commit([{ id: 'd1', notifier: 'hook' }]);
    const started = Date.now();
    expect(await outbox([hook]).drain({ inlineRetryAfterMs: 1_000, deadline: clock + 100 })).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(Date.now() - started).toBeLessThan(150);
    expect(hook.calls).toHaveLength(1);
    expect(delivery('d1')).toMatchObject({ status: 'pending', attempts: 1 });
  });

  it('waits out a receiver that keeps saying Retry-After: 0 a bounded number of times, then schedules it', async () => {
    const hook = failing('hook', () => new NotifyError('answered 429', { retryAfterMs: 0 }));
    commit([{ id: 'd1', notifier: 'hook' }]);
    expect(await outbox([hook]).drain({ inlineRetryAfterMs: 1_000 })).toEqual({ sent: 0, retried: 1, failed: 0 });
    // The first attempt and three inline retries; every one of them counted in the store.
    expect(hook.calls).toHaveLength(4);
    expect(delivery('d1')).toMatchObject({ status: 'pending', attempts: 4, lastError: 'answered 429' });
    expect(delivery('d1').nextAttemptAtMs).toBeGreaterThan(clock);
  });

  // An attempt retried inline (Retry-After within inlineRetryAfterMs; in serve, a Retry-After of 0)
  // is an attempt like any other: herald_deliveries_total{outcome="retry"} must agree with the
  // "2 attempts" `herald events` shows. (It used to be left out.)
  it('reports an attempt retried within the pass to onAttempt as a retry', async () => {
    const hook = notifier('hook', (n) => {
      if (n === 1) throw new NotifyError('answered 429', { retryAfterMs: 0 });
    });
    commit([{ id: 'd1', notifier: 'hook' }]);
    expect(await outbox([hook]).drain({ inlineRetryAfterMs: 1_000 })).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(delivery('d1').attempts).toBe(2);
    expect(attempts).toEqual(['hook retry', 'hook sent']);
  });
});

describe('outbox: stop(deadline)', () => {
  it('makes one last pass that starts no send after the deadline', async () => {
    // Each send takes a (simulated) second.
    const hook = notifier('hook', () => {
      clock += 1_000;
    });
    commit([{ id: 'a1', notifier: 'hook' }, { id: 'a2', notifier: 'hook' }, { id: 'a3', notifier: 'hook' }]);
    const out = outbox([hook]);
    expect(await out.stop(clock + 1_500)).toEqual({ sent: 2, retried: 0, failed: 0 });
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['a1', 'a2']);
    expect(delivery('a3')).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('sends nothing when the deadline has passed already', async () => {
    const hook = notifier('hook');
    commit([{ id: 'a1', notifier: 'hook' }]);
    expect(await outbox([hook]).stop(clock - 1)).toBeUndefined();
    expect(hook.calls).toHaveLength(0);
    expect(delivery('a1').status).toBe('pending');
  });

  it('returns at the deadline while a send hangs, leaving the delivery pending for the next start', async () => {
    const release = gate();
    const hook = notifier('hook', (n) => (n === 1 ? release.promise : undefined));
    commit([{ id: 'a1', notifier: 'hook' }, { id: 'a2', notifier: 'hook' }], Date.now());
    const out = outbox([hook], POLICY, { now: Date.now });
    try {
      out.start();
      await within(2_000, 'the first send', () => hook.calls.length === 1);
      const started = Date.now();
      expect(await out.stop(started + 300)).toBeUndefined();
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(290);
      expect(took).toBeLessThan(2_000);
      expect(hook.calls.map((c) => c.deliveryId)).toEqual(['a1']);
      expect(store.deliveries.counts()).toEqual({ pending: 2, sent: 0, failed: 0 });
    } finally {
      release.open();
    }
  });

  // stop() gives up waiting for the loop's pass at the deadline; when the hanging send returns, that
  // pass must not go on with the rest of its queue. On a reload (serve stops the old outbox with a
  // 2 s deadline and starts a new one on the same store) both would otherwise send the same pending
  // deliveries: duplicates, and two sends at once to one notifier. (It used to.)
  it('starts no send after stop() has returned, even when the send it gave up on finishes later', async () => {
    const release = gate();
    const hook = notifier('hook', (n) => (n === 1 ? release.promise : undefined));
    commit([{ id: 'a1', notifier: 'hook' }, { id: 'a2', notifier: 'hook' }], Date.now());
    const out = outbox([hook], POLICY, { now: Date.now });
    out.start();
    await within(2_000, 'the first send', () => hook.calls.length === 1);
    expect(await out.stop(Date.now() + 100)).toBeUndefined();
    release.open();
    await sleep(100);
    expect(hook.calls.map((c) => c.deliveryId)).toEqual(['a1']);
  });
});

describe('outbox: onAttempt', () => {
  it('is told each outcome: sent, retry, failed', async () => {
    const hook = notifier('hook');
    const flaky = failing('flaky', () => new NotifyError('answered 500'));
    const gone = failing('gone', () => new NotifyError('answered 410', { permanent: true }));
    commit([{ id: 'h1', notifier: 'hook' }, { id: 'f1', notifier: 'flaky' }, { id: 'g1', notifier: 'gone' }]);
    const out = outbox([hook, flaky, gone], { attempts: 2, minDelay: 1_000, maxDelay: 5_000 });
    await out.drain();
    expect(attempts.sort()).toEqual(['flaky retry', 'gone failed', 'hook sent']);
    clock = delivery('f1').nextAttemptAtMs;
    attempts = [];
    await out.drain();
    // The second attempt was the last one allowed.
    expect(attempts).toEqual(['flaky failed']);
  });
});

describe('backoffMs', () => {
  const policy: RetryPolicy = { attempts: 10, minDelay: 500, maxDelay: 30_000 };

  it('doubles from minDelay and stops at maxDelay', () => {
    const middle = () => 0.5; // no jitter
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffMs(n, policy, middle))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    expect(backoffMs(0, policy, middle)).toBe(500);
  });

  it('spreads each delay by at most 10% either way', () => {
    expect(backoffMs(1, policy, () => 0)).toBe(450);
    expect(backoffMs(1, policy, () => 0.999999)).toBe(550);
    expect(backoffMs(10, policy, () => 0)).toBe(27_000);
    expect(backoffMs(10, policy, () => 0.999999)).toBe(33_000);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, minDelay, extra, r) => {
          const p = { attempts: 100, minDelay, maxDelay: minDelay + extra };
          const base = Math.min(p.maxDelay, p.minDelay * 2 ** (attempt - 1));
          const ms = backoffMs(attempt, p, () => r);
          return Number.isInteger(ms) && ms >= Math.floor(base * 0.9) && ms <= Math.ceil(base * 1.1);
        },
      ),
    );
  });
});
