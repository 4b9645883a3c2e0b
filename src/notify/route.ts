/**
 * Which notifiers get which events. Decided when the events are stored, so the deliveries land in
 * the same transaction as the events and nothing routed can be lost by a crash after it.
 */
import { randomUUID } from 'node:crypto';
import type { NotifierBaseConfig } from './notifier.js';
import type { WatchedImage } from '../model/image.js';
import type { HeraldEvent } from '../model/event.js';

export interface RoutedEvent {
  event: HeraldEvent;
  image: WatchedImage;
  /** The image (or repository) had never been checked before this run. */
  firstCheck: boolean;
}

export interface PlannedDelivery {
  id: string;
  notifier: string;
  eventIds: string[];
}

export function shouldNotify(item: RoutedEvent, firstCheckNotify: boolean): boolean {
  if (!item.image.notifyOn.includes(item.event.status)) return false;
  if (item.event.status === 'new' && item.firstCheck && !firstCheckNotify) return false;
  return true;
}

export function planDeliveries(
  items: readonly RoutedEvent[],
  notifiers: readonly Pick<NotifierBaseConfig, 'name' | 'batch'>[],
  firstCheckNotify: boolean,
): PlannedDelivery[] {
  const out: PlannedDelivery[] = [];
  const batches = new Map<string, PlannedDelivery>();
  const allNames = notifiers.map((n) => n.name);
  const batchByName = new Map(notifiers.map((n) => [n.name, n.batch]));
  for (const item of items) {
    if (!shouldNotify(item, firstCheckNotify)) continue;
    for (const name of item.image.notifiers ?? allNames) {
      if (!batchByName.has(name)) continue; // validated at load; a reload may have removed it
      if (batchByName.get(name) === true) {
        let d = batches.get(name);
        if (d === undefined) {
          d = { id: randomUUID(), notifier: name, eventIds: [] };
          batches.set(name, d);
          out.push(d);
        }
        d.eventIds.push(item.event.id);
      } else {
        out.push({ id: randomUUID(), notifier: name, eventIds: [item.event.id] });
      }
    }
  }
  return out;
}
