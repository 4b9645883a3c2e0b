/** A started daemon's /api/images before its first run: the config's images, not checked yet. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../../src/daemon/daemon.js';
import { loadConfig } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/util/log.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-api-daemon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the daemon behind /api/images', () => {
  it("lists the config's images with lastChecked null before any run, without asking a registry", async () => {
    const file = join(dir, 'herald.yml');
    writeFileSync(
      file,
      [
        `db: { path: ${join(dir, 'herald.db')} }`,
        'watch: { schedule: "0 0 1 1 *", runOnStartup: false, jitter: 0 }',
        'images:',
        '  - name: registry.invalid/acme/api:1.0.0',
        '    watchRepo: true',
        '  - name: registry.invalid/acme/web:2',
        '    platform: linux/arm64',
        'server: { listen: "127.0.0.1:0" }',
        '',
      ].join('\n'),
    );
    const daemon = new Daemon({ loadConfig: () => loadConfig(file, {}), logger: silentLogger });
    await daemon.start();
    try {
      const images = (await (await fetch(`http://${daemon.address}/api/images`)).json()) as Array<Record<string, unknown>>;
      expect(images.map((i) => [i.image, i.platform, i.lastChecked, i.digest, i.sources, i.deliveries])).toEqual([
        ['registry.invalid/acme/api:1.0.0', expect.any(String), null, null, ['config'], { pending: 0, failed: 0 }],
        ['registry.invalid/acme/web:2', 'linux/arm64', null, null, ['config'], { pending: 0, failed: 0 }],
      ]);
      expect(images[0]).not.toHaveProperty('newestTag'); // no run has listed the repository yet
    } finally {
      await daemon.stop('test end');
    }
  });
});
