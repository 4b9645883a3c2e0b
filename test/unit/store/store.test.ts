import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, chmodSync, readdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../../src/store/index.js';
import { MIGRATIONS_DIR, migrate, openDatabase } from '../../../src/store/db.js';
import type { HeraldEvent } from '../../../src/model/event.js';
import type { ImageState } from '../../../src/model/state.js';
import { UserError } from '../../../src/util/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-store-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function state(image: string, digest: string): ImageState {
  return {
    image, platform: 'linux/amd64', digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', platformDigest: digest,
    created: null, labels: { a: 'b' }, firstSeen: '2026-01-01T00:00:00.000Z', lastChecked: null, lastChanged: null, error: null, errorSince: null,
  };
}

function event(image: string, id: string): HeraldEvent {
  return {
    id, status: 'update', image, registry: 'docker.io', repository: 'library/x', tag: 'latest', digest: 'sha256:b', previousDigest: 'sha256:a',
    platform: 'linux/amd64', platformDigest: 'sha256:b', previousPlatformDigest: 'sha256:a', mediaType: null, created: null, labels: {},
    hubLink: null, metadata: {}, detectedAt: '2026-01-01T00:00:00.000Z', error: null,
  };
}

describe('store', () => {
  it('creates the file and its folder, in WAL mode, with every migration recorded', () => {
    const path = join(dir, 'nested', 'deeper', 'herald.db');
    const store = Store.open(path);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    const applied = store.db.prepare('SELECT name FROM schema_migrations ORDER BY version').all() as Array<{ name: string }>;
    expect(applied.map((r) => r.name)).toEqual(readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql')).sort());
    store.close();
    // Reopening applies nothing twice.
    const again = Store.open(path);
    expect((again.db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(applied.length);
    again.close();
  });

  it('applies only new migrations, each in its own transaction', () => {
    const migrations = join(dir, 'migrations');
    mkdirSync(migrations);
    for (const f of readdirSync(MIGRATIONS_DIR)) copyFileSync(join(MIGRATIONS_DIR, f), join(migrations, f));
    const db = openDatabase(join(dir, 'a.db'), { migrationsDir: migrations });
    writeFileSync(join(migrations, '900_extra.sql'), 'CREATE TABLE extra (x INTEGER);');
    writeFileSync(join(migrations, '901_broken.sql'), 'CREATE TABLE half (x INTEGER); THIS IS NOT SQL;');
    expect(() => migrate(db, migrations)).toThrow();
    // 900 landed, 901 rolled back entirely (its first statement too).
    const names = (db.prepare('SELECT name FROM schema_migrations').all() as Array<{ name: string }>).map((r) => r.name);
    expect(names).toContain('900_extra.sql');
    expect(names).not.toContain('901_broken.sql');
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('commits state, events and deliveries together, or nothing', () => {
    const store = Store.open(join(dir, 'h.db'));
    store.commitRun({
      states: [state('docker.io/library/a:1', 'sha256:1')],
      events: [event('docker.io/library/a:1', 'e1')],
      deliveries: [{ id: 'd1', notifier: 'hook', eventIds: ['e1'] }],
    });
    expect(store.state.get('docker.io/library/a:1', 'linux/amd64')?.digest).toBe('sha256:1');
    expect(store.events.recent(10).map((e) => e.id)).toEqual(['e1']);
    expect(store.deliveries.forEvent('e1').map((d) => [d.id, d.status, d.eventIds])).toEqual([['d1', 'pending', ['e1']]]);

    // A delivery pointing at an event that does not exist violates a foreign key: the whole write fails.
    expect(() =>
      store.commitRun({
        states: [state('docker.io/library/a:1', 'sha256:2')],
        events: [event('docker.io/library/a:1', 'e2')],
        deliveries: [{ id: 'd2', notifier: 'hook', eventIds: ['missing'] }],
      }),
    ).toThrow();
    expect(store.state.get('docker.io/library/a:1', 'linux/amd64')?.digest).toBe('sha256:1');
    expect(store.events.get('e2')).toBeUndefined();
    store.close();
  });

  it('the state map reused between runs is what a fresh read gives, after its own writes, a rollback and another connection', () => {
    const path = join(dir, 'h.db');
    const store = Store.open(path);
    const fresh = () => {
      const other = Store.open(path);
      try {
        return new Map(other.state.map());
      } finally {
        other.close();
      }
    };
    store.commitRun({ states: [state('r/a:1', 'sha256:1'), state('r/b:1', 'sha256:2'), state('r/c:1', 'sha256:3')], events: [], deliveries: [] });
    expect(new Map(store.state.map())).toEqual(fresh());
    // A run: one update (first_seen stays what the row had), two check times, a removed tag.
    store.commitRun({
      states: [{ ...state('r/a:1', 'sha256:9'), firstSeen: '2027-01-01T00:00:00.000Z', lastChanged: '2026-06-01T00:00:00.000Z' }],
      checked: { at: '2026-06-01T00:00:00.000Z', keys: [['r/b:1', 'linux/amd64'], ['r/gone:1', 'linux/amd64']] },
      removedStates: [{ image: 'r/c:1', platform: 'linux/amd64' }],
      events: [],
      deliveries: [],
    });
    const afterRun = new Map(store.state.map());
    expect(afterRun).toEqual(fresh());
    expect(afterRun.get('r/a:1\u0000linux/amd64')).toMatchObject({ digest: 'sha256:9', firstSeen: '2026-01-01T00:00:00.000Z' });
    expect(afterRun.get('r/b:1\u0000linux/amd64')?.lastChecked).toBe('2026-06-01T00:00:00.000Z');
    expect(afterRun.has('r/c:1\u0000linux/amd64')).toBe(false);
    // A write that is rolled back leaves no trace in the map either.
    expect(() => store.commitRun({ states: [state('r/b:1', 'sha256:bad')], events: [], deliveries: [{ id: 'd', notifier: 'n', eventIds: ['missing'] }] })).toThrow();
    expect(new Map(store.state.map())).toEqual(fresh());
    expect(store.state.map().get('r/b:1\u0000linux/amd64')?.digest).toBe('sha256:2');
    // `herald images remove` from another process, while this one (serve) keeps its map.
    const cli = Store.open(path);
    expect(cli.state.remove('r/b:1')).toBe(1);
    cli.close();
    expect([...store.state.map().keys()]).toEqual(['r/a:1\u0000linux/amd64']);
    store.close();
  });

  it('keeps state per image and platform, and removes by image', () => {
    const store = Store.open(join(dir, 'h.db'));
    store.commitRun({ states: [state('r/a:1', 'sha256:1'), { ...state('r/a:1', 'sha256:2'), platform: 'linux/arm64/v8' }, state('r/b:1', 'sha256:3')], events: [], deliveries: [] });
    expect(store.state.byImage('r/a:1').map((s) => s.platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(store.state.get('r/a:1', 'linux/amd64')?.labels).toEqual({ a: 'b' });
    expect(store.state.remove('r/a:1')).toBe(2);
    expect(store.state.all().map((s) => s.image)).toEqual(['r/b:1']);
    store.close();
  });

  it('gives one clear error for a database it cannot write', () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const asRoot = process.getuid?.() === 0;
    try {
      if (!asRoot) {
        expect(() => Store.open(join(ro, 'h.db'))).toThrow(UserError);
      }
      const notDb = join(dir, 'not.db');
      writeFileSync(notDb, 'this is not sqlite, just text that is long enough to look like a header'.repeat(20));
      expect(() => Store.open(notDb)).toThrow(/cannot (open|use) database .*not\.db: not a herald database/);
    } finally {
      chmodSync(ro, 0o700);
    }
  });
});

describe('store: containers of sources', () => {
  const at = '2026-02-01T00:00:00.000Z';
  const row = (source: string, name: string, image: string, runningDigest: string | null) => ({ source, name, id: `id-${name}`, image, platform: 'linux/amd64', runningDigest });

  it('shows each image with the containers that run it, outdated when they run another digest, and keeps what a run says of its sources', () => {
    const store = Store.open(join(dir, 'herald.db'));
    try {
      store.commitRun({
        states: [{ ...state('r/app:1', 'sha256:new'), sources: ['local'], outdatedDigest: 'sha256:new' }, state('r/solo:1', 'sha256:s')],
        events: [],
        deliveries: [],
        sources: ['local', 'edge'],
        containers: [
          { source: 'local', at, containers: [row('local', 'web-1', 'r/app:1', 'sha256:old'), row('local', 'web-2', 'r/app:1', 'sha256:new')] },
          { source: 'edge', at, containers: [row('edge', 'web-9', 'r/app:1', null)] },
        ],
      });
      const [app, solo] = store.imageViews();
      expect(app).toMatchObject({ image: 'r/app:1', sources: ['local'], outdatedDigest: 'sha256:new' });
      expect(app?.containers?.map((c) => [c.source, c.name, c.runningDigest, c.outdated])).toEqual([
        ['edge', 'web-9', null, false],
        ['local', 'web-1', 'sha256:old', true],
        ['local', 'web-2', 'sha256:new', false],
      ]);
      expect(solo?.containers).toBeUndefined();
      expect(store.imageViews('r/app:1')).toEqual([app]);

      // A run that listed only `local` (edge failed) replaces local's rows and leaves edge's.
      store.commitRun({ states: [], events: [], deliveries: [], sources: ['local', 'edge'], containers: [{ source: 'local', at, containers: [row('local', 'web-2', 'r/app:1', 'sha256:new')] }] });
      expect(store.imageViews('r/app:1')[0]?.containers?.map((c) => c.name)).toEqual(['web-9', 'web-2']);
      // A source taken out of the config takes its containers with it.
      store.commitRun({ states: [], events: [], deliveries: [], sources: ['local'], containers: [] });
      expect(store.imageViews('r/app:1')[0]?.containers?.map((c) => c.name)).toEqual(['web-2']);
    } finally {
      store.close();
    }
  });
});
