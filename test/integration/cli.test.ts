/**
 * The CLI as a user runs it: the real bin/herald in a child process, against a real registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { herald, registryEntry, tempDir, writeConfig } from './helpers.js';

describe('herald CLI against a registry', () => {
  let registry: TestRegistry;
  let tmp: ReturnType<typeof tempDir>;
  let file: string;
  let app: string;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'htpasswd' });
    tmp = tempDir();
    app = `${registry.host}/team/app:1.0`;
    await registry.pushImage('team/app', '1.0', { seed: 'v1' });
    await registry.pushImage('team/other', 'latest', { seed: 'o1' });
    file = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'data', 'herald.db')} }`,
        'registries:',
        registryEntry('local', registry.host, registry),
        'images:',
        `  - name: ${app}`,
        `  - name: ${registry.host}/team/other`,
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await registry?.stop();
    tmp?.cleanup();
  });

  it('check --json: new, then unchanged, then update, with exit 0', async () => {
    const first = await herald(['check', '-c', file, '--json']);
    expect(first.stderr).not.toMatch(/Error|at .*\.js/);
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.stdout);
    expect(r1).toMatchObject({ events: 2, deliveries: { sent: 0, pending: 0, failed: 0 } });
    expect(r1.images.map((i: { status: string }) => i.status)).toEqual(['new', 'new']);
    expect(typeof r1.startedAt).toBe('string');
    expect(typeof r1.durationMs).toBe('number');

    const second = JSON.parse((await herald(['check', '-c', file, '--json'])).stdout);
    expect(second.images.map((i: { status: string }) => i.status)).toEqual(['unchanged', 'unchanged']);
    expect(second.events).toBe(0);

    const pushed = await registry.pushImage('team/app', '1.0', { seed: 'v2' });
    const third = await herald(['check', '-c', file, '--json', '--image', app]);
    expect(third.code).toBe(0);
    const r3 = JSON.parse(third.stdout);
    expect(r3.images).toEqual([{ image: app, platform: expect.any(String), status: 'update', digest: pushed.digest, previousDigest: r1.images[0].digest, error: null }]);
  });

  it('events and images show what was stored', async () => {
    const events = await herald(['events', '-c', file, '--json']);
    expect(events.code).toBe(0);
    const list = JSON.parse(events.stdout);
    expect(list[0]).toMatchObject({ status: 'update', image: app, tag: '1.0', repository: 'team/app', registry: registry.host });
    expect(list.map((e: { status: string }) => e.status)).toEqual(['update', 'new', 'new']);
    expect((await herald(['events', '-c', file, '--limit', '1', '--json'])).stdout).toContain('"update"');
    const text = await herald(['events', '-c', file]);
    expect(text.stdout).toMatch(/DETECTED\s+STATUS\s+IMAGE/);
    expect(text.stdout).toContain(app);

    const images = JSON.parse((await herald(['images', 'list', '-c', file, '--json'])).stdout);
    expect(images.map((s: { image: string }) => s.image).sort()).toEqual([app, `${registry.host}/team/other:latest`].sort());
    const inspect = await herald(['images', 'inspect', app, '-c', file, '--json']);
    expect(inspect.code).toBe(0);
    expect(JSON.parse(inspect.stdout).states[0].image).toBe(app);
    expect((await herald(['images', 'inspect', `${registry.host}/team/nope:1`, '-c', file])).code).toBe(1);
  });

  it('images remove and prune edit the stored state', async () => {
    const other = `${registry.host}/team/other:latest`;
    expect((await herald(['images', 'remove', other, '-c', file])).code).toBe(0);
    expect((await herald(['images', 'remove', other, '-c', file])).code).toBe(1);
    // A config without `app` makes it stale for prune.
    const pruneConfig = writeConfig(tmp.dir, [`db: { path: ${join(tmp.dir, 'data', 'herald.db')} }`, 'images: []'].join('\n'), 'prune.yml');
    const pruned = await herald(['images', 'prune', '-c', pruneConfig]);
    expect(pruned.code).toBe(0);
    expect(pruned.stdout).toContain(`removed ${app}`);
    expect(JSON.parse((await herald(['images', 'list', '-c', file, '--json'])).stdout)).toEqual([]);
    // Checking a config that watches nothing says so instead of printing an empty table.
    const nothing = await herald(['check', '-c', pruneConfig]);
    expect(nothing.code).toBe(0);
    expect(nothing.stdout.trim()).toBe(`no images to check in ${pruneConfig}`);
  });

  it('exits 1 with a one-line error per failing image, and names it', async () => {
    const bad = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'bad.db')} }`,
        'registries:',
        `  - { name: local, host: "${registry.host}", insecure: true, username: ${registry.username}, password: wrong-password }`,
        'images:',
        `  - name: ${app}`,
      ].join('\n'),
      'bad-creds.yml',
    );
    const r = await herald(['check', '-c', bad, '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.images[0]).toMatchObject({ image: app, status: 'error' });
    expect(report.images[0].error).toMatch(/unauthori[sz]ed|401/i);
    expect(r.stdout + r.stderr).not.toContain('wrong-password');
  });

  it('exits 2 with one line naming file, line and key for a bad config', async () => {
    const bad = join(tmp.dir, 'typo.yml');
    writeFileSync(bad, 'watch:\n  workers: -1\n');
    for (const args of [['check', '-c', bad], ['config', 'validate', '-c', bad], ['serve', '-c', bad]]) {
      const r = await herald(args);
      expect(r.code).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/typo\.yml:2:\d+: watch\.workers: /);
    }
    expect((await herald(['check', '-c', file, '--image', 'Not A Ref'])).code).toBe(2);
    expect((await herald(['check', '-c', file, '--image', `${registry.host}/team/absent:1`])).stderr).toMatch(/not in the config/);
    const env = await herald(['check', '-c', file], { env: { HERALD_WATCH_WORKERS: '-1' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/HERALD_WATCH_WORKERS/);
  });

  it('validates the example config and prints a JSON Schema', async () => {
    const ok = await herald(['config', 'validate', '-c', 'config/herald.yml']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/valid/);
    const schema = JSON.parse((await herald(['config', 'schema'])).stdout);
    expect(schema.type).toBe('object');
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['db', 'watch', 'defaults', 'registries', 'images', 'include', 'notifiers', 'notify', 'server']));
    expect((await herald(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const usage = await herald(['images', 'inspect']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/Usage: herald images inspect/);
  });
});
