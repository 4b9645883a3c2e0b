/**
 * The dashboard in chromium with a docker source: a fake Docker engine (fixtures/engine.ts) whose
 * containers run an older digest than the registry's tag. After a run the page shows the image as
 * "Containers outdated" with its containers' names, and the status filter finds it.
 * Also the page's keyboard use, accessible names, colour scheme and text statuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { engineFleet, startFakeEngine, type FakeEngine } from '../../fixtures/engine.js';
import { freePort } from '../../fixtures/ports.js';
import { killServes, spawnServe, tempDir, writeConfig } from './helpers.js';
import { browserMissing, launchChromium, openPage, type Browsing, type WatchedPage } from './browser.js';

const TOKEN = 'tok-dash-sources-7c2f-secret';
const OLD_DIGEST = `sha256:${'ab'.repeat(32)}`;
const missing = browserMissing();

describe.skipIf(missing !== undefined)(`dashboard with a docker source in chromium${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let registry: TestRegistry;
  let engine: FakeEngine;
  let browsing: Browsing;
  let tmp: ReturnType<typeof tempDir>;
  let base: string;
  let main: WatchedPage;
  let app: string;
  let fresh: string;

  beforeAll(async () => {
    registry = await startRegistry();
    app = `${registry.host}/team/app:1`;
    fresh = (await registry.pushImage('team/app', '1', { seed: 'app-new' })).digest;
    await registry.pushImage('team/lib', '3', { seed: 'lib-3' });
    // Two containers run team/app:1 from an older pull: their RepoDigests name another digest.
    const fleet = engineFleet({ images: [{ reference: app, digest: OLD_DIGEST }], containers: 2 });
    engine = await startFakeEngine(fleet);
    tmp = tempDir('herald-dash-src-');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(tmp.dir, 'token'), `${TOKEN}\n`);
    const file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'herald.db')} }`,
        'watch: { schedule: "0 0 1 1 *", runOnStartup: false, jitter: 0 }',
        'registries:',
        `  - { name: local, host: "${registry.host}", insecure: true, timeout: 3s }`,
        'sources:',
        `  - { name: engine, type: docker, endpoint: "${engine.endpoint}", timeout: 3s }`,
        'images:',
        `  - name: ${registry.host}/team/lib:3`,
        'server:',
        `  listen: 127.0.0.1:${port}`,
        '  tokenFile: ./token',
        '',
      ].join('\n'),
    );
    await spawnServe(file);
    browsing = await launchChromium();
    main = await openPage(browsing.browser);
  }, 90_000);

  afterAll(async () => {
    await browsing?.close();
    await killServes();
    await engine?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  const rowOf = (page: WatchedPage['page'], image: string) => page.locator('#image-rows tr', { hasText: image });

  it('after a run, the image its containers run behind on is "Containers outdated", with their names', async () => {
    const { page } = main;
    await page.goto(base);
    await page.getByLabel('API token').fill(TOKEN);
    await page.keyboard.press('Enter');
    await page.getByText('No images stored yet').waitFor();
    await page.getByRole('button', { name: 'Check now' }).click();
    await page.getByText(/Run finished at .*need attention/).waitFor({ timeout: 20_000 });
    expect(engine.counts.list).toBeGreaterThanOrEqual(1);
    const row = rowOf(page, 'team/app:1');
    await expect.poll(() => row.locator('.badge').textContent(), { timeout: 10_000 }).toContain('Containers outdated');
    expect(await row.getAttribute('data-status')).toBe('outdated');
    const where = (await row.locator('td').nth(2).textContent()) ?? '';
    expect(where).toContain('engine');
    for (const name of ['app-0', 'app-1']) expect(where).toMatch(new RegExp(`${name} \\(engine\\) — outdated, runs ${OLD_DIGEST.slice(7, 19)}`));
    // The row shows the registry's digest, not the one the containers run.
    expect(await row.textContent()).toContain(fresh.slice(7, 19));
    expect(await rowOf(page, 'team/lib:3').locator('.badge').textContent()).toContain('Up to date');
    // Most urgent first: the outdated image leads; the summary counts it.
    expect(await page.locator('#image-rows tr').first().getAttribute('data-status')).toBe('outdated');
    await page.getByRole('button', { name: 'Show 1 containers outdated' }).waitFor();
  });

  it('the status filter "Containers outdated" shows that image only; "Up to date" hides it', async () => {
    const { page } = main;
    await page.getByLabel('Status').selectOption('outdated');
    await expect.poll(() => page.locator('#image-rows tr').count()).toBe(1);
    expect(await page.locator('#image-rows').textContent()).toContain('team/app:1');
    await page.getByLabel('Status').selectOption('ok');
    await expect.poll(() => page.locator('#image-rows').textContent()).toContain('team/lib:3');
    expect(await page.locator('#image-rows tr').count()).toBe(1);
    await page.getByLabel('Status').selectOption('attention');
    await expect.poll(() => page.locator('#image-rows').textContent()).toContain('team/app:1');
    expect(await page.locator('#image-rows tr').count()).toBe(1);
    // A container name is searchable.
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Search').fill('app-1');
    await expect.poll(() => page.locator('#image-rows tr').count()).toBe(1);
    expect(await page.locator('#image-rows').textContent()).toContain('team/app:1');
    await page.getByLabel('Search').fill('');
    expect(main.consoleErrors).toEqual([]);
    expect(main.pageErrors).toEqual([]);
    expect(main.requests.filter((u) => !u.startsWith(`${base}/`))).toEqual([]);
  });
});
