/** GET /api/images as a dashboard or script reads it: each image's sources and the containers that run it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/server/metrics.js';
import { startServer } from '../../../src/server/http.js';
import { Store } from '../../../src/store/index.js';
import { silentLogger } from '../../../src/util/log.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GET /api/images', () => {
  it('gives each image its sources, and its containers with the digest each runs and whether it is outdated', async () => {
    const store = Store.open(join(dir, 'herald.db'));
    const server = await startServer('127.0.0.1:0', {
      store,
      metrics: new Metrics({ store: () => store, processMetrics: false }),
      logger: silentLogger,
      token: () => undefined,
      health: () => ({ status: 'ok', reasons: [], checks: { scheduler: 'ok', database: 'ok', lastRun: 'ok' }, lastRunStartedAt: null, lastRunFinishedAt: null, nextRunAt: null }),
      triggerRun: () => 'running',
    });
    try {
      store.commitRun({
        states: [
          { image: 'r/app:1', platform: 'linux/amd64', digest: 'sha256:new', mediaType: null, platformDigest: 'sha256:p', created: null, labels: null, firstSeen: 'x', lastChecked: 'x', lastChanged: 'x', error: null, errorSince: null, sources: ['config', 'local'] },
          { image: 'r/solo:1', platform: 'linux/amd64', digest: 'sha256:s', mediaType: null, platformDigest: 'sha256:s', created: null, labels: null, firstSeen: 'x', lastChecked: 'x', lastChanged: null, error: null, errorSince: null, sources: ['config'] },
        ],
        events: [],
        deliveries: [],
        containers: [
          {
            source: 'local',
            at: 'x',
            containers: [
              { source: 'local', name: 'web-1', id: 'c1', image: 'r/app:1', platform: 'linux/amd64', runningDigest: 'sha256:old' },
              { source: 'local', name: 'web-2', id: 'c2', image: 'r/app:1', platform: 'linux/amd64', runningDigest: 'sha256:p' },
            ],
          },
        ],
      });
      const res = await fetch(`http://${server.address}/api/images`);
      expect(res.status).toBe(200);
      const images = (await res.json()) as Array<Record<string, unknown>>;
      expect(images.map((i) => [i.image, i.sources])).toEqual([['r/app:1', ['config', 'local']], ['r/solo:1', ['config']]]);
      expect(images[0]!.containers).toEqual([
        { source: 'local', name: 'web-1', id: 'c1', runningDigest: 'sha256:old', outdated: true },
        { source: 'local', name: 'web-2', id: 'c2', runningDigest: 'sha256:p', outdated: false },
      ]);
      expect(images[1]!).not.toHaveProperty('containers');
    } finally {
      await server.close();
      store.close();
    }
  });
});
