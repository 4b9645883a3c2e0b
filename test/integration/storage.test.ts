/**
 * Storage faults, as a user meets them: the database on a read-only disk, folder or file, on a disk
 * that is full or fills up during a run, and two herald processes on one database.
 *
 * We run as root here, and chmod does not stop root. So each fault is made for real in a private
 * mount namespace (`unshare -m`, or `unshare -Urm` for a user without CAP_SYS_ADMIN): a tmpfs
 * remounted read-only, a read-only bind mount of a folder or of the database file itself, a tiny
 * tmpfs filled to the last page. Nothing is mounted outside the namespace, so a killed test leaves
 * no mount behind. The herald process runs inside it, and the database files are copied out
 * afterwards to check that what was there survived.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from '../../src/store/driver.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { HERALD, ROOT, herald, killServes, registryEntry, spawnServe, tempDir } from './helpers.js';

/** The unshare arguments that give this process a private mount namespace where it may mount tmpfs. */
function mountNamespace(dir: string): { args: string[] } | { reason: string } {
  const probe = join(dir, 'probe');
  mkdirSync(probe, { recursive: true });
  const script = `mount -t tmpfs -o size=64k tmpfs ${probe} && touch ${probe}/x && mount -o remount,ro ${probe} && ! touch ${probe}/y 2>/dev/null`;
  const tried: string[] = [];
  for (const args of [['-m', '--propagation', 'private'], ['-Urm', '--propagation', 'private']]) {
    const r = spawnSync('unshare', [...args, 'sh', '-c', script], { encoding: 'utf8' });
    if (r.status === 0) return { args };
    tried.push(`unshare ${args.join(' ')}: ${(r.error?.message ?? r.stderr).trim() || `exit ${r.status}`}`);
  }
  return { reason: `cannot mount a tmpfs in a private mount namespace (${tried.join('; ')})` };
}

interface Scenario {
  code: number;
  stderr: string;
  /** The database as it was left, copied out of the namespace. */
  db: string;
}

interface StateRow {
  image: string;
  digest: string;
}

function readState(db: string): { state: StateRow[]; events: number; integrity: string } {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return {
      state: conn.prepare('SELECT image, digest FROM image_state ORDER BY image').all() as StateRow[],
      events: (conn.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n,
      integrity: (conn.pragma('integrity_check', { simple: true }) as string),
    };
  } finally {
    conn.close();
  }
}

const timeoutMs = 60_000;

describe('storage faults', () => {
  let registry: TestRegistry;
  let tmp: ReturnType<typeof tempDir>;
  let ns: ReturnType<typeof mountNamespace>;
  let seedDb: string;
  let before: ReturnType<typeof readState>;
  let images: string[];
  let scenarios = 0;

  beforeAll(async () => {
    tmp = tempDir('herald-storage-');
    ns = mountNamespace(tmp.dir);
    registry = await startRegistry();
    // 30 images: the first check of all of them writes enough to need several pages.
    images = [];
    // Same content under every tag but t0: one upload, then a manifest PUT per tag.
    await registry.pushImage('storage/app', 't0', { seed: 't0-v1' });
    images.push(`${registry.host}/storage/app:t0`);
    for (let i = 1; i < 30; i++) {
      await registry.pushImage('storage/app', `t${i}`, { seed: 'same' });
      images.push(`${registry.host}/storage/app:t${i}`);
    }
    // The data already there: a database that has checked the first image once.
    const seedDir = join(tmp.dir, 'seed');
    const file = configFor(seedDir, images.slice(0, 1));
    const r = await herald(['check', '-c', file]);
    expect(r.code, r.stderr).toBe(0);
    seedDb = join(seedDir, 'herald.db');
    before = readState(seedDb);
    expect(before.state).toHaveLength(1);
    // The image changes afterwards: a check that could write would store this update.
    await registry.pushImage('storage/app', 't0', { seed: 't0-v2' });
  }, timeoutMs);

  afterAll(async () => {
    await registry?.stop();
    tmp?.cleanup();
  });

  function configFor(dbDir: string, list: string[], name = `herald-${scenarios++}.yml`): string {
    const file = join(tmp.dir, name);
    writeFileSync(
      file,
      [
        `db: { path: ${join(dbDir, 'herald.db')} }`,
        'watch: { schedule: "0 0 1 1 *", runOnStartup: false, jitter: 0 }',
        'registries:',
        registryEntry('local', registry.host, registry),
        'images:',
        ...list.map((i) => `  - name: ${i}`),
      ].join('\n'),
    );
    return file;
  }

  /**
   * Runs `setup` (shell, as root of the namespace), then `herald <args>` inside the namespace,
   * then copies the database out. `$M` is the database folder, `$SEED` the seed database.
   */
  function scenario(setup: string, args: (config: string) => string[], list = images.slice(0, 1)): Scenario {
    if ('reason' in ns) throw new Error(ns.reason);
    const id = scenarios;
    const m = join(tmp.dir, `m${id}`);
    const out = join(tmp.dir, `out${id}`);
    mkdirSync(m, { recursive: true });
    mkdirSync(out, { recursive: true });
    const config = configFor(m, list);
    const heraldArgs = args(config).map((a) => `'${a}'`).join(' ');
    const script = [
      'set -e',
      setup,
      'set +e',
      // Bounded: a herald that did not refuse (serve would run on) must not outlive the test.
      `timeout -k 2 20 '${process.execPath}' '${HERALD}' ${heraldArgs} >"$OUT/stdout" 2>"$OUT/stderr"`,
      'echo $? >"$OUT/code"',
      'cp "$M"/herald.db* "$OUT"/ 2>/dev/null',
      'true',
    ].join('\n');
    const env: NodeJS.ProcessEnv = { ...process.env, M: m, OUT: out, SEED: seedDb };
    for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
    const r = spawnSync('unshare', [...ns.args, 'sh', '-c', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`scenario setup failed (exit ${r.status}): ${r.stderr}`);
    return {
      code: Number(readFileSync(join(out, 'code'), 'utf8')),
      stderr: readFileSync(join(out, 'stderr'), 'utf8'),
      db: join(out, 'herald.db'),
    };
  }

  const skip = (): string | undefined => ('reason' in ns ? ns.reason : undefined);

  /** One clear line (besides the JSON log lines), a non-zero exit, and the database exactly as it was. */
  function expectRefusedAndIntact(s: Scenario, cause: RegExp): void {
    const lines = s.stderr.trim().split('\n').filter((l) => !l.startsWith('{'));
    expect(lines, s.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(cause);
    expect(lines[0]).toContain('herald.db');
    expect(s.stderr).not.toMatch(/\n\s+at /);
    expect(s.code).not.toBe(0);
    const after = readState(s.db);
    expect(after.integrity).toBe('ok');
    expect(after.state).toEqual(before.state);
    expect(after.events).toBe(before.events);
  }

  const readOnly = /: not writable \(read-only file, folder or disk\)$/;
  const setups: Array<[string, string]> = [
    ['a read-only disk (tmpfs remounted read-only)', 'mount -t tmpfs -o size=4m tmpfs "$M"; cp "$SEED" "$M"/; mount -o remount,ro "$M"'],
    ['a read-only folder (read-only bind mount)', 'cp "$SEED" "$M"/; mount --bind "$M" "$M"; mount -o remount,bind,ro "$M"'],
    ['a read-only database file in a writable folder (bind mount of the file)', 'cp "$SEED" "$M"/; mount --bind "$M/herald.db" "$M/herald.db"; mount -o remount,bind,ro "$M/herald.db"'],
  ];

  for (const [what, setup] of setups) {
    for (const command of ['check', 'serve'] as const) {
      it(`${command} on ${what}: one line, exit 1, data intact`, (ctx) => {
        if (skip()) return ctx.skip(skip());
        const s = scenario(setup, (config) => [command, '-c', config]);
        expectRefusedAndIntact(s, readOnly);
      });
    }
  }

  it('check on a full disk: one line, exit 1, data intact', (ctx) => {
    if (skip()) return ctx.skip(skip());
    // Fill the tmpfs to the last byte after the seed is copied in.
    const s = scenario('mount -t tmpfs -o size=512k tmpfs "$M"; cp "$SEED" "$M"/; dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null || true', (config) => ['check', '-c', config], images);
    expectRefusedAndIntact(s, /: disk full$/);
  });

  it('check on a disk that fills up during the run: one line, exit 1, data intact', (ctx) => {
    if (skip()) return ctx.skip(skip());
    // 64 KiB left: enough to open the database (lock file, WAL index), not for 30 new images.
    const s = scenario(
      'mount -t tmpfs -o size=1m tmpfs "$M"; cp "$SEED" "$M"/; dd if=/dev/zero of="$M/reserve" bs=4k count=16 2>/dev/null; dd if=/dev/zero of="$M/fill" bs=4k 2>/dev/null || true; rm "$M/reserve"',
      (config) => ['--log-level', 'debug', 'check', '-c', config],
      images,
    );
    expectRefusedAndIntact(s, /^herald: cannot write database .*: disk full$/);
    // It did check the images: the failure came from the write at the end of the run (the per-image lines are debug).
    expect(s.stderr.match(/"msg":"first check"/g)?.length).toBe(images.length - 1);
  });

  describe('two herald processes on one database', () => {
    afterEach(killServes);

    const userLines = (stderr: string): string[] => stderr.trim().split('\n').filter((l) => l !== '' && !l.startsWith('{'));

    it('a second serve or check refuses with one line naming the holder; images and events work alongside', async () => {
      const dir = join(tmp.dir, 'shared');
      mkdirSync(dir, { recursive: true });
      copyFileSync(seedDb, join(dir, 'herald.db'));
      const config = configFor(dir, images.slice(0, 1));
      const first = await spawnServe(config);
      try {
        const pid = first.child.pid!;
        const busy = new RegExp(`^herald: database .*herald\\.db is in use by another herald process \\(pid ${pid}\\)`);
        for (const command of ['serve', 'check']) {
          const r = await herald([command, '-c', config]);
          expect(r.code, r.stderr).toBe(1);
          expect(userLines(r.stderr)).toHaveLength(1);
          expect(userLines(r.stderr)[0]).toMatch(busy);
        }
        const list = await herald(['images', 'list', '-c', config, '--json']);
        expect(list.code, list.stderr).toBe(0);
        expect(JSON.parse(list.stdout).map((s: StateRow) => s.digest)).toEqual(before.state.map((s) => s.digest));
        const events = await herald(['events', '-c', config, '--json']);
        expect(events.code, events.stderr).toBe(0);
        expect(JSON.parse(events.stdout)).toHaveLength(before.events);
        expect(first.child.exitCode).toBeNull(); // the first one is unharmed

        expect((await first.stop()).code).toBe(0);
        const after = await herald(['check', '-c', config, '--json']);
        expect(after.code, after.stderr).toBe(0);
        expect(JSON.parse(after.stdout).images[0].status).toBe('update');
        expect(readState(join(dir, 'herald.db')).integrity).toBe('ok');
      } finally {
        await first.kill();
      }
    }, timeoutMs);

    it('a SIGKILLed serve leaves no lock behind: the next one starts at once', async () => {
      const dir = join(tmp.dir, 'killed');
      mkdirSync(dir, { recursive: true });
      const config = configFor(dir, []);
      const first = await spawnServe(config);
      expect((await first.kill()).code).toBeNull();
      // A serve that exits instead of starting makes spawnServe throw, with its output.
      const second = await spawnServe(config);
      try {
        expect(second.child.exitCode, second.output()).toBeNull();
        expect((await second.stop()).code).toBe(0);
      } finally {
        await second.kill();
      }
    }, timeoutMs);
  });
});
