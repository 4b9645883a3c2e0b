/**
 * What GET /api/images gives the dashboard besides the stored states (src/server/images-api.ts):
 * watched images not checked yet, each image's open deliveries counted in the store, and the newest
 * tag a watchRepo image's selection kept (src/watch/expand.ts → src/daemon/watched.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/server/metrics.js';
import { startServer, type ServerContext } from '../../../src/server/http.js';
import type { WatchedEntry } from '../../../src/server/images-api.js';
import { Store } from '../../../src/store/index.js';
import { silentLogger } from '../../../src/util/log.js';
import type { HeraldEvent } from '../../../src/model/event.js';
import type { ImageState } from '../../../src/model/state.js';
import type { WatchedImage } from '../../../src/model/image.js';
import { parseReference } from '../../../src/model/reference.js';
import { expandImages } from '../../../src/watch/expand.js';
import { WatchList } from '../../../src/daemon/watched.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-api-data-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const P = 'linux/amd64';

function state(image: string): ImageState {
  return { image, platform: P, digest: 'sha256:d', mediaType: null, platformDigest: 'sha256:d', created: null, labels: null, firstSeen: 'x', lastChecked: 'x', lastChanged: null, error: null, errorSince: null, sources: ['config'] };
}

function event(image: string, id: string): HeraldEvent {
  return {
    id, status: 'update', image, registry: 'docker.io', repository: 'library/x', tag: 'latest', digest: 'sha256:b', previousDigest: 'sha256:a',
    platform: P, platformDigest: 'sha256:b', previousPlatformDigest: 'sha256:a', mediaType: null, created: null, labels: {},
    hubLink: null, metadata: {}, detectedAt: '2026-01-01T00:00:00.000Z', error: null,
  };
}

function watched(name: string, extra: Partial<WatchedImage> = {}): WatchedImage {
  return {
    name, ref: parseReference(name), platform: P, notifyOn: ['new', 'update'], metadata: {}, watchRepo: false, includeTags: [], excludeTags: [],
    sortTags: 'semver', maxTags: 0, newerOnly: false, sameFlavour: true, includePrereleases: false, source: 'test.yml:1', ...extra,
  };
}

async function serve(store: Store, list: () => readonly WatchedEntry[], runs: string[] = []) {
  const ctx: ServerContext = {
    store,
    metrics: new Metrics({ store: () => store, processMetrics: false }),
    logger: silentLogger,
    token: () => undefined,
    health: () => ({ status: 'ok', reasons: [], checks: { scheduler: 'ok', database: 'ok', lastRun: 'ok' }, lastRunStartedAt: null, lastRunFinishedAt: null, nextRunAt: null }),
    watched: list,
    triggerRun: (image) => {
      runs.push(image ?? '*');
      return 'started';
    },
  };
  return startServer('127.0.0.1:0', ctx);
}

describe('GET /api/images for the dashboard', () => {
  it('lists watched images never checked (lastChecked null, no digest), open deliveries per image, and newestTag', async () => {
    const store = Store.open(join(dir, 'a.db'));
    store.commitRun({
      states: [state('docker.io/library/nginx:1.25'), state('docker.io/library/redis:7')],
      events: [event('docker.io/library/nginx:1.25', 'e1'), event('docker.io/library/nginx:1.25', 'e2'), event('docker.io/library/redis:7', 'e3')],
      deliveries: [
        { id: 'd1', notifier: 'slack', eventIds: ['e1'] },
        { id: 'd2', notifier: 'mail', eventIds: ['e2'] },
        { id: 'd3', notifier: 'batch', eventIds: ['e1', 'e2', 'e3'] }, // a batch: once per image it carries
        { id: 'd4', notifier: 'hook', eventIds: ['e3'] },
      ],
    });
    store.deliveries.markFailed('d2', 'boom');
    store.deliveries.markSent('d4', Date.now());
    const list: WatchedEntry[] = [
      { image: 'docker.io/library/nginx:1.25', platform: P, sources: ['config'], newestTag: '1.27.3' },
      { image: 'docker.io/library/postgres:16', platform: P, sources: ['config', 'local'] },
    ];
    const runs: string[] = [];
    const server = await serve(store, () => list, runs);
    try {
      const images = (await (await fetch(`http://${server.address}/api/images`)).json()) as Array<Record<string, unknown>>;
      expect(images.map((i) => [i.image, i.lastChecked, i.digest, i.deliveries, i.newestTag ?? null])).toEqual([
        ['docker.io/library/nginx:1.25', 'x', 'sha256:d', { pending: 2, failed: 1 }, '1.27.3'],
        ['docker.io/library/redis:7', 'x', 'sha256:d', { pending: 1, failed: 0 }, null],
        ['docker.io/library/postgres:16', null, null, { pending: 0, failed: 0 }, null],
      ]);
      expect(images[2]).toMatchObject({ platform: P, sources: ['config', 'local'], error: null, firstSeen: null });
      // Its per-image re-check is accepted although it has no state yet.
      const check = await fetch(`http://${server.address}/api/check?image=docker.io/library/postgres:16`, { method: 'POST' });
      expect(check.status).toBe(202);
      expect(runs).toEqual(['docker.io/library/postgres:16']);
      expect((await fetch(`http://${server.address}/api/check?image=docker.io/library/nope:1`, { method: 'POST' })).status).toBe(404);
    } finally {
      await server.close();
      store.close();
    }
  });

  it('counts 5000 images\' open deliveries in one query, well under 50 ms', () => {
    const store = Store.open(join(dir, 'big.db'));
    const n = 5000;
    const names = Array.from({ length: n }, (_, i) => `r.example/app-${i}:1`);
    store.commitRun({
      states: names.map(state),
      events: names.flatMap((name, i) => [event(name, `a${i}`), event(name, `b${i}`)]),
      deliveries: names.flatMap((_, i) => [{ id: `p${i}`, notifier: 'slack', eventIds: [`a${i}`] }, { id: `f${i}`, notifier: 'mail', eventIds: [`b${i}`] }]),
    });
    store.db.transaction(() => names.forEach((_, i) => store.deliveries.markFailed(`f${i}`, 'boom')))();
    store.deliveries.openByImage(); // warm
    const t0 = performance.now();
    const rows = store.deliveries.openByImage();
    const ms = performance.now() - t0;
    console.log(`open deliveries of ${n} images (${2 * n} deliveries): ${ms.toFixed(1)} ms`);
    expect(rows).toHaveLength(n);
    expect(rows.every((r) => r.pending === 1 && r.failed === 1)).toBe(true);
    expect(ms).toBeLessThan(500); // generous for slow CI; measured about 18 ms
    store.close();
  });
});

describe('the watch list behind /api/images', () => {
  it("keeps the first tag each watchRepo image's selection kept, from the expansion", async () => {
    const R = 'ghcr.io/acme/api';
    const lister = { listTags: async () => ({ tags: ['1.0.0', '1.1.0', '2.0.0', 'latest'], complete: true, pages: 1 }) };
    const a = watched(`${R}:1.0.0`, { watchRepo: true, newerOnly: true });
    const b = watched(`${R}:latest`, { watchRepo: true, includeTags: ['^1\\.'], sortTags: 'lexicographical' });
    const { newestTags } = await expandImages([a, b], { lister, known: () => undefined, previous: new Map(), concurrency: 2, logger: silentLogger });
    const list = new WatchList();
    list.fromRun({ watched: [a, b, watched('docker.io/library/nginx:1', { sources: ['local'] })], newestTags }, true);
    expect(list.entries()).toEqual([
      { image: `${R}:1.0.0`, platform: P, sources: ['config'], newestTag: '2.0.0' },
      { image: `${R}:latest`, platform: P, sources: ['config'], newestTag: '1.0.0' },
      { image: 'docker.io/library/nginx:1', platform: P, sources: ['local'] },
    ]);
    // A one-image run updates only what it found; a whole run replaces.
    list.fromRun({ watched: [a, b], newestTags: new Map([[`${R}:latest\u0000${P}`, '1.1.0']]) }, false);
    expect(list.entries().map((e) => e.newestTag)).toEqual(['2.0.0', '1.1.0']);
    list.fromRun({ watched: [a], newestTags: new Map() }, true);
    expect(list.entries()).toEqual([{ image: `${R}:1.0.0`, platform: P, sources: ['config'] }]);
  });
});
