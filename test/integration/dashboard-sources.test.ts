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
    // Before a run the config's own image is listed, not yet checked (sources are only listed by a run).
    await expect.poll(() => rowOf(page, 'team/lib:3').locator('.badge').textContent()).toContain('Not checked yet');
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

  /** Presses Tab (at most `max` times) until the focused element matches `selector`; the ids passed on the way. */
  async function tabTo(page: WatchedPage['page'], selector: string, max = 40): Promise<string[]> {
    const passed: string[] = [];
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      // A string, run in the page (this project's types have no DOM).
      const hit = (await page.evaluate(`(() => {
        const el = document.activeElement;
        return { matches: el !== null && el.matches(${JSON.stringify(selector)}), id: el?.id || el?.getAttribute('aria-label') || el?.tagName || '' };
      })()`)) as { matches: boolean; id: string };
      passed.push(hit.id);
      if (hit.matches) return passed;
    }
    throw new Error(`Tab never reached ${selector} in ${max} presses; passed ${passed.join(', ')}`);
  }

  it('works with the keyboard alone: token, search, status, "Check now" (Enter and Space), a row\'s Re-check', async () => {
    const kb = await openPage(browsing.browser);
    try {
      const { page } = kb;
      await page.goto(base);
      await page.locator('#token').waitFor();
      await page.evaluate('document.activeElement?.blur()');
      await tabTo(page, '#token');
      await page.keyboard.type(TOKEN);
      await page.keyboard.press('Enter');
      await page.locator('#image-rows tr[data-status]').first().waitFor();
      await page.evaluate('document.activeElement?.blur()');
      // From the top of the page: "Check now" (in the header) comes first, then search, status, a row's button.
      await tabTo(page, '#check-all');
      await tabTo(page, '#search');
      await page.keyboard.type('team/app');
      await expect.poll(() => page.locator('#image-rows tr').count()).toBe(1);
      await tabTo(page, '#status-filter', 3);
      await tabTo(page, '#image-rows button', 10);
      expect(await page.evaluate("document.activeElement?.getAttribute('aria-label')")).toBe(`Re-check ${app} (linux/amd64)`);
      // Enter on a row's Re-check starts a one-image run.
      await page.keyboard.press('Enter');
      await page.getByText(/Run finished at/).waitFor({ timeout: 20_000 });
      // Enter on "Check now" starts a run of everything.
      await page.reload();
      await page.locator('#image-rows tr[data-status]').first().waitFor();
      await page.evaluate('document.activeElement?.blur()');
      await tabTo(page, '#check-all');
      await page.keyboard.press('Enter');
      await page.getByText('Run started').waitFor();
      await page.getByText(/Run finished at .*need attention/).waitFor({ timeout: 20_000 });
      // And Space.
      await page.reload();
      await page.locator('#image-rows tr[data-status]').first().waitFor();
      await page.evaluate('document.activeElement?.blur()');
      await tabTo(page, '#check-all');
      await page.keyboard.press('Space');
      await page.getByText('Run started').waitFor();
      await page.getByText(/Run finished at .*need attention/).waitFor({ timeout: 20_000 });
      expect(kb.consoleErrors).toEqual([]);
      expect(kb.pageErrors).toEqual([]);
    } finally {
      await kb.context.close();
    }
  });

  it('every control has an accessible name', async () => {
    const { page } = main;
    await page.getByRole('searchbox', { name: 'Search' }).waitFor();
    await page.getByRole('combobox', { name: 'Status' }).waitFor();
    await page.getByRole('button', { name: 'Check now' }).waitFor();
    await page.getByRole('button', { name: 'Forget token' }).waitFor();
    await page.getByRole('button', { name: 'Previous page' }).waitFor();
    await page.getByRole('button', { name: 'Next page' }).waitFor();
    await page.getByRole('button', { name: `Re-check ${app} (linux/amd64)` }).waitFor();
    await page.getByRole('link', { name: 'Skip to the images' }).waitFor({ state: 'attached' });
    for (const label of ['Error', 'Containers outdated', 'Update available', 'Not checked yet', 'Up to date']) {
      expect(await page.getByRole('button', { name: new RegExp(`^Show \\d+ ${label.toLowerCase()}$`) }).count(), label).toBe(1);
    }
    // And none without: every button, input, select and link, named by aria-label, a <label> or its text.
    const unnamed = await page.evaluate(`[...document.querySelectorAll('button, input, select, a[href]')]
      .filter((el) => ((el.getAttribute('aria-label') ?? '') + [...(el.labels ?? [])].map((l) => l.textContent).join('') + el.textContent).trim() === '')
      .map((el) => el.outerHTML)`);
    expect(unnamed).toEqual([]);
  });

  const luminance = (rgb: string): number => {
    const [r, g, b] = (rgb.match(/\d+/g) ?? []).map(Number);
    if (r === undefined || g === undefined || b === undefined) throw new Error(`not a colour: ${rgb}`);
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };

  it('follows prefers-color-scheme: a dark background in dark, a light one in light', async () => {
    const { page } = main;
    const background = () => page.evaluate('getComputedStyle(document.body).backgroundColor') as Promise<string>;
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await background();
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await background();
    expect(luminance(dark), dark).toBeLessThan(0.2);
    expect(luminance(light), light).toBeGreaterThan(0.8);
    // The text follows: light on dark, dark on light.
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(luminance((await page.evaluate('getComputedStyle(document.body).color')) as string)).toBeGreaterThan(0.7);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(luminance((await page.evaluate('getComputedStyle(document.body).color')) as string)).toBeLessThan(0.3);
  });

  it('shows every status in words, not colour alone', async () => {
    const { page } = main;
    const words: Record<string, string> = { error: 'Error', outdated: 'Containers outdated', update: 'Update available', unchecked: 'Not checked yet', ok: 'Up to date' };
    const rows = await page.locator('#image-rows tr[data-status]').evaluateAll((trs) =>
      trs.map((tr) => ({ status: tr.getAttribute('data-status') ?? '', text: tr.querySelector('.badge')?.textContent ?? '' })));
    expect(rows.length).toBe(2);
    for (const { status, text } of rows) expect(text, status).toContain(words[status]);
    // The summary names all five, in words, each with its count.
    const summary = await page.locator('#summary .badge').allTextContents();
    expect(summary).toHaveLength(5);
    for (const label of Object.values(words)) expect(summary.some((t) => new RegExp(`\\d+ ${label}$`).test(t)), label).toBe(true);
  });
});
