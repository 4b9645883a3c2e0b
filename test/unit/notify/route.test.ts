import { describe, expect, it } from 'vitest';
import { planDeliveries, type RoutedEvent } from '../../../src/notify/route.js';
import type { WatchedImage } from '../../../src/model/image.js';
import { parseReference } from '../../../src/model/reference.js';
import type { HeraldEvent } from '../../../src/model/event.js';
import type { EventStatus } from '../../../src/model/event.js';

function image(name: string, extra: Partial<WatchedImage> = {}): WatchedImage {
  return {
    name, ref: parseReference(name), platform: 'linux/amd64', notifyOn: ['new', 'update'], metadata: {},
    watchRepo: false, includeTags: [], excludeTags: [], sortTags: 'default', maxTags: 0, newerOnly: false, sameFlavour: true, includePrereleases: false, source: 'test.yml:1', ...extra,
  };
}

let n = 0;
function routed(img: WatchedImage, status: EventStatus, firstCheck = false): RoutedEvent {
  const event = { id: `e${++n}`, status, image: img.ref.name } as HeraldEvent;
  return { event, image: img, firstCheck };
}

const notifiers = [
  { name: 'mail', batch: true },
  { name: 'hook', batch: false },
  { name: 'slack', batch: false },
];

describe('routing events to notifiers', () => {
  it('sends each event to every notifier by default, one delivery per event, and batches per run', () => {
    const a = image('nginx:1');
    const items = [routed(a, 'update'), routed(a, 'update')];
    const plan = planDeliveries(items, notifiers, false);
    expect(plan.filter((d) => d.notifier === 'hook').map((d) => d.eventIds)).toEqual([[items[0]!.event.id], [items[1]!.event.id]]);
    expect(plan.filter((d) => d.notifier === 'mail').map((d) => d.eventIds)).toEqual([[items[0]!.event.id, items[1]!.event.id]]);
    expect(new Set(plan.map((d) => d.id)).size).toBe(plan.length);
  });

  it("honours an image's notifiers and notifyOn", () => {
    const onlySlack = image('redis:7', { notifiers: ['slack'], notifyOn: ['update', 'error'] });
    const plan = planDeliveries([routed(onlySlack, 'update'), routed(onlySlack, 'error'), routed(onlySlack, 'new', false)], notifiers, false);
    expect(plan.map((d) => d.notifier)).toEqual(['slack', 'slack']);
    expect(planDeliveries([routed(image('x:1'), 'error')], notifiers, false)).toEqual([]);
  });

  it('does not notify the first sighting of an image unless firstCheckNotify', () => {
    const a = image('nginx:1');
    expect(planDeliveries([routed(a, 'new', true)], notifiers, false)).toEqual([]);
    expect(planDeliveries([routed(a, 'new', true)], notifiers, true).map((d) => d.notifier).sort()).toEqual(['hook', 'mail', 'slack']);
    // A tag discovered after the repository's first check is news.
    expect(planDeliveries([routed(a, 'new', false)], notifiers, false)).toHaveLength(3);
  });
});
