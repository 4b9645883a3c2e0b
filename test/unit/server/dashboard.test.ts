/** The dashboard's routes on a real server: served by default, 404 with server.ui off, the headers, and POST /api/check?image=. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../../src/server/metrics.js';
import { startServer, type ServerContext } from '../../../src/server/http.js';
import { Store } from '../../../src/store/index.js';
import { silentLogger } from '../../../src/util/log.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-dash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dashboard routes', () => {
  it('serves /, its assets and the per-image check; server.ui off makes them 404', async () => {
    const store = Store.open(join(dir, 'herald.db'));
    let ui = true;
    const runs: Array<string | undefined> = [];
    const ctx: ServerContext = {
      store,
      metrics: new Metrics({ store: () => store, processMetrics: false }),
      logger: silentLogger,
      token: () => 'secret',
      ui: () => ui,
      health: () => ({ status: 'ok', reasons: [], checks: { scheduler: 'ok', database: 'ok', lastRun: 'ok' }, lastRunStartedAt: null, lastRunFinishedAt: null, nextRunAt: null }),
      triggerRun: (image) => {
        runs.push(image);
        return 'started';
      },
    };
    const server = await startServer('127.0.0.1:0', ctx);
    const base = `http://${server.address}`;
    const auth = { authorization: 'Bearer secret' };
    try {
      store.commitRun({
        states: [{ image: 'docker.io/library/nginx:1.27', platform: 'linux/amd64', digest: 'sha256:a', mediaType: null, platformDigest: null, created: null, labels: null, firstSeen: 'x', lastChecked: 'x', lastChanged: null, error: null, errorSince: null }],
        events: [],
        deliveries: [],
      });
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      // The shell tells the page a token is needed; it holds no data and no inline script or style.
      const html = await page.text();
      expect(html).toContain('<meta name="herald-token" content="required">');
      expect(html).not.toMatch(/<script>|<style|style=/);
      const etag = page.headers.get('etag')!;
      expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
      expect((await fetch(`${base}/ui/app.js`)).headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect((await fetch(`${base}/api/repositories`)).status).toBe(401);
      expect(await (await fetch(`${base}/api/repositories`, { headers: auth })).json()).toEqual([]);

      // One image: normalized as check --image does; unknown → 404, unparsable → 400, neither starts a run.
      const one = await fetch(`${base}/api/check?image=nginx:1.27`, { method: 'POST', headers: auth });
      expect(one.status).toBe(202);
      expect(await one.json()).toMatchObject({ image: 'docker.io/library/nginx:1.27' });
      expect((await fetch(`${base}/api/check?image=nginx:9`, { method: 'POST', headers: auth })).status).toBe(404);
      expect((await fetch(`${base}/api/check?image=${encodeURIComponent('UPPER/Case::x')}`, { method: 'POST', headers: auth })).status).toBe(400);
      expect((await fetch(`${base}/api/check`, { method: 'POST', headers: auth })).status).toBe(202);
      expect(runs).toEqual(['docker.io/library/nginx:1.27', undefined]);

      ui = false;
      for (const path of ['/', '/ui/app.js', '/ui/app.css', '/ui/icon.svg']) expect((await fetch(base + path)).status, path).toBe(404);
      expect((await fetch(`${base}/api/images`, { headers: auth })).status).toBe(200);
    } finally {
      await server.close();
      store.close();
    }
  });
});
