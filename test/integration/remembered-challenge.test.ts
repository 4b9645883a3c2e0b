/**
 * `herald check` processes run one after another (as cron runs them) against a real docker-registry
 * behind a counting proxy: the registry's auth challenge, learnt by one check's ping, is remembered
 * in the database, so the next check sends no ping; a remembered challenge that is too old, or that
 * no longer works, costs one ping and nothing else: same report, same exit code.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from '../../src/store/driver.js';
import { startRegistry, type AuthMode, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { herald, registryEntry, tempDir, writeConfig } from './helpers.js';

const DAY_MS = 24 * 60 * 60_000;

describe.each<AuthMode>(['token', 'htpasswd'])('herald check remembers the auth challenge of a registry with %s auth', (mode) => {
  let registry: TestRegistry;
  let proxy: CountingProxy;
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  let dbPath: string;
  const images = ['team/one', 'team/two'];

  const check = async (): Promise<{ statuses: string[]; code: number | null; stderr: string }> => {
    const r = await herald(['check', '-c', config, '--json']);
    const statuses = r.code === 0 || r.code === 1 ? (JSON.parse(r.stdout) as { images: Array<{ status: string }> }).images.map((i) => i.status) : [];
    return { statuses, code: r.code, stderr: r.stderr };
  };
  const rows = (): Array<{ endpoint: string; challenge: string | null; pinged_at: number }> => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT endpoint, challenge, pinged_at FROM registry_challenges').all() as Array<{ endpoint: string; challenge: string | null; pinged_at: number }>;
    } finally {
      db.close();
    }
  };
  const edit = (sql: string, ...params: unknown[]): void => {
    const db = new Database(dbPath);
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    registry = await startRegistry({ auth: mode });
    proxy = await startCountingProxy(registry.url);
    tmp = tempDir();
    dbPath = join(tmp.dir, 'herald.db');
    for (const [i, repo] of images.entries()) await registry.pushImage(repo, '1', { seed: `remembered-${i}` });
    config = writeConfig(
      tmp.dir,
      [
        `db: { path: ${dbPath} }`,
        'defaults: { platform: linux/amd64 }',
        'registries:',
        registryEntry('test', proxy.host, registry),
        'images:',
        ...images.map((repo) => `  - name: ${proxy.host}/${repo}:1`),
      ].join('\n'),
    );
    const first = await check();
    expect(first.code, first.stderr).toBe(0);
    expect(first.statuses).toEqual(['new', 'new']);
  });

  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
    tmp?.cleanup();
  });

  beforeEach(() => proxy.reset());

  it('stores the challenge the first check was given', () => {
    const [row] = rows();
    expect(row?.endpoint).toBe(`http://${proxy.host}|`);
    const challenge = JSON.parse(row!.challenge!) as { scheme: string; params: Record<string, string> };
    expect(challenge.scheme).toBe(mode === 'token' ? 'bearer' : 'basic');
    if (mode === 'token') expect(challenge.params.realm).toBe(registry.tokenServer!.url);
  });

  it('a later check reuses it: no ping, one HEAD per image', async () => {
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(r.statuses).toEqual(['unchanged', 'unchanged']);
    expect(proxy.counts).toMatchObject({ ping: 0, head: 2, getManifest: 0 });
  });

  it('a challenge older than a day is asked for again', async () => {
    edit('UPDATE registry_challenges SET pinged_at = ?', Date.now() - DAY_MS - 60_000);
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(r.statuses).toEqual(['unchanged', 'unchanged']);
    expect(proxy.counts).toMatchObject({ ping: 1, head: 2 });
    expect(rows()[0]!.pinged_at).toBeGreaterThan(Date.now() - 60_000);
  });

  it('a remembered challenge that no longer works is dropped: the registry is pinged once and the check succeeds', async () => {
    // As if the registry had moved its token service (or changed its auth) since the last check.
    const wrong = mode === 'token' ? { scheme: 'bearer', params: { realm: `${registry.url}/moved-token-service`, service: 'elsewhere' } } : { scheme: 'bearer', params: { realm: `${registry.url}/no-token-service` } };
    edit('UPDATE registry_challenges SET challenge = ?, pinged_at = ?', JSON.stringify(wrong), Date.now());
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(r.statuses).toEqual(['unchanged', 'unchanged']);
    expect(proxy.counts.ping).toBe(1);
    expect(JSON.parse(rows()[0]!.challenge!)).toMatchObject({ scheme: mode === 'token' ? 'bearer' : 'basic' });
    expect(rows()[0]!.challenge).not.toContain('moved-token-service');

    proxy.reset();
    const next = await check();
    expect(next.statuses).toEqual(['unchanged', 'unchanged']);
    expect(proxy.counts.ping).toBe(0);
  });

  it('a registry remembered as asking for no auth, that now does, is still checked', async () => {
    edit('UPDATE registry_challenges SET challenge = NULL, pinged_at = ?', Date.now());
    const r = await check();
    expect(r.code, r.stderr).toBe(0);
    expect(r.statuses).toEqual(['unchanged', 'unchanged']);
    expect(rows()[0]!.challenge).not.toBeNull();
  });
});
