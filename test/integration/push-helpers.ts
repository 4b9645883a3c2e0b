// What the push-notifier tests share: notifiers built through the real config schema, events (the
// sample, a real update with containers, a batch), and one delivery drained the way `herald check`
// drains it: a real Outbox over a real Store on a temp dir, waiting out a short Retry-After inline.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { Store } from '../../src/store/index.js';
import type { Delivery } from '../../src/store/deliveries.js';
import { Outbox, type DrainResult } from '../../src/notify/outbox.js';
import { NotifyError, type Notifier, type NotifierMessage } from '../../src/notify/notifier.js';
import { createNotifier, notifierSchema } from '../../src/notify/notifiers/index.js';
import { sampleEvent } from '../../src/notify/sample.js';
import type { HeraldEvent } from '../../src/model/event.js';

export function makeNotifier(config: Record<string, unknown>): Notifier {
  return createNotifier(notifierSchema.parse(config), { logger: silentLogger });
}

export function message(events: HeraldEvent[] = [sampleEvent()]): NotifierMessage {
  return { deliveryId: randomUUID(), events };
}

/** An update as an engine source reports it: two containers, one still on the old digest. */
export function updateWithContainers(): HeraldEvent {
  const e = sampleEvent();
  return {
    ...e, metadata: {}, image: 'ghcr.io/acme/shop-api:2.4', registry: 'ghcr.io', repository: 'acme/shop-api', tag: '2.4',
    labels: { 'org.opencontainers.image.source': 'https://github.com/acme/shop-api' }, hubLink: null, runningDigest: e.previousDigest,
    containers: [
      { source: 'docker', name: 'shop-api-1', id: 'c0ffee01', runningDigest: e.previousDigest, outdated: true },
      { source: 'docker', name: 'shop-api-2', id: 'c0ffee02', runningDigest: e.digest, outdated: false },
    ],
  };
}

/** n distinct update events, for batches. */
export function batch(n: number): HeraldEvent[] {
  return Array.from({ length: n }, (_, i) => ({ ...sampleEvent(), image: `registry.example.com/team/service-${String(i).padStart(3, '0')}:1.${i}`, tag: `1.${i}` }));
}

/** The NotifyError a send failed with; checks it is one line without any of the secrets. */
export async function failure(promise: Promise<unknown>, secrets: readonly string[]): Promise<NotifyError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(NotifyError);
  const text = (err as NotifyError).message;
  expect(text).not.toContain('\n');
  for (const secret of secrets) expect(text).not.toContain(secret);
  return err as NotifyError;
}

/** Commits one delivery of `events` to `notifier` and drains it as `check` does. */
export async function drainOnce(notifier: Notifier, events: HeraldEvent[]): Promise<{ result: DrainResult; delivery: Delivery; ms: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-push-'));
  const store = Store.open(path.join(dir, 'herald.db'));
  try {
    const id = randomUUID();
    store.commitRun({ states: [], events, deliveries: [{ id, notifier: notifier.name, eventIds: events.map((e) => e.id) }] }, Date.now());
    const outbox = new Outbox({ store, notifiers: [notifier], retry: { attempts: 5, minDelay: 60_000, maxDelay: 60_000 }, logger: silentLogger });
    const started = Date.now();
    const result = await outbox.drain({ inlineRetryAfterMs: 10_000 });
    const delivery = store.deliveries.forEvent(events[0]!.id).find((d) => d.id === id)!;
    return { result, delivery, ms: Date.now() - started };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
