/**
 * The crash loop: `herald serve` checks every second against a registry whose images keep changing,
 * and sends every update to a webhook that sometimes fails. It is SIGKILLed at seeded random
 * moments and started again, over and over. Afterwards:
 * - every update herald recorded was delivered (answered 200) at least once;
 * - duplicates (an event delivered again after a kill between the send and its record) are no
 *   more than the kills;
 * - nothing was delivered that herald did not record, and no update names a digest never pushed;
 * - the database passes PRAGMA integrity_check;
 * - no delivery is stuck: a final `herald check` sends whatever is left and exits 0;
 * - a killed serve never blocks the next one (each one is still running when it is killed).
 *
 * HERALD_LONG_TESTS=1 kills 200 times instead of 30; HERALD_CRASH_SEED picks another seed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from '../../src/store/driver.js';
import { prng } from '../fixtures/fault-proxy.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { herald, killServes, registryEntry, spawnServe, tempDir, until, writeConfig } from './helpers.js';

const LONG = process.env.HERALD_LONG_TESTS === '1';
const SEED = Number(process.env.HERALD_CRASH_SEED ?? 11);
const KILLS = LONG ? 200 : 30;
const IMAGES = 4;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface EventJson {
  id: string;
  status: string;
  image: string;
  digest: string;
  previousDigest: string | null;
  deliveries: Array<{ status: string }>;
}

describe('crash loop: serve SIGKILLed at random moments while images change', () => {
  let registry: TestRegistry;
  let sink: HttpSink;
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  const rnd = prng(SEED);
  /** Event ids of every webhook request answered 200, one entry per delivery received. */
  const delivered: string[] = [];
  let sinkFailures = 0;
  let failRate = 0.15;
  const pushed = new Map<string, Set<string>>(); // image → every digest pushed under its tag

  beforeAll(async () => {
    tmp = tempDir('herald-crash-');
    registry = await startRegistry();
    sink = await startHttpSink((req) => {
      if (rnd() < failRate) {
        sinkFailures++;
        return { status: 500, body: 'injected failure' };
      }
      const body = JSON.parse(req.body.toString('utf8')) as { events: Array<{ id: string }> };
      for (const e of body.events) delivered.push(e.id);
      return { status: 200, body: 'ok' };
    });
    for (let i = 0; i < IMAGES; i++) await pushVersion(i, 0);
    config = writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, 'data', 'herald.db')} }`,
        'watch: { schedule: "* * * * * *", jitter: 0, runOnStartup: true, workers: 4 }',
        'notify: { retry: { attempts: 100, minDelay: 100ms, maxDelay: 500ms } }',
        'registries:',
        registryEntry('local', registry.host, registry),
        'images:',
        ...Array.from({ length: IMAGES }, (_, i) => `  - name: ${imageName(i)}`),
        'notifiers:',
        `  - { name: hook, type: webhook, url: "${sink.url}/hook", timeout: 2s }`,
      ].join('\n'),
    );
  }, 60_000);

  afterEach(killServes);

  afterAll(async () => {
    await sink?.close();
    await registry?.stop();
    tmp?.cleanup();
  });

  function imageName(i: number): string {
    return `${registry.host}/crash/app${i}:1`;
  }

  async function pushVersion(i: number, version: number): Promise<void> {
    const { digest } = await registry.pushImage(`crash/app${i}`, '1', { seed: `app${i}-v${version}` });
    const name = imageName(i);
    if (!pushed.has(name)) pushed.set(name, new Set());
    pushed.get(name)!.add(digest);
  }

  it(`${KILLS} SIGKILLs lose no update and leave no delivery stuck (seed ${SEED})`, async () => {
    // Images keep changing for as long as serve is being killed.
    let pushing = true;
    let pushes = 0;
    const versions = new Array<number>(IMAGES).fill(0);
    const pusher = (async () => {
      while (pushing) {
        await sleep(300 + Math.floor(rnd() * 500));
        const i = Math.floor(rnd() * IMAGES);
        await pushVersion(i, ++versions[i]!);
        pushes++;
      }
    })();

    // A first clean check records every image, so what serve finds later are updates.
    const first = await herald(['check', '-c', config, '--json']);
    expect(first.code, first.stderr.slice(-2_000)).toBe(0);

    let killedAfterStart = 0;
    let killedWhileSending = 0;
    try {
      for (let k = 0; k < KILLS; k++) {
        const serve = await spawnServe(config, { waitFor: null, keepChars: 100_000 });
        // Kills land at random moments after start-up: during and between runs and sends. Waiting for
        // the start line keeps the test meaningful on a loaded machine, where starting takes seconds.
        // One that has not started after 15 s is killed all the same (and not counted as started).
        await until(() => /herald serve started/.test(serve.output()), { what: 'serve to start', timeoutMs: 15_000, intervalMs: 20 }).catch(() => undefined);
        await sleep(Math.floor(rnd() * 1600));
        const requestsBefore = sink.requests.length;
        const { code, signal } = await serve.kill();
        // Still running when killed: it started (a stale lock did not stop it) and did not crash.
        expect({ code, signal, kill: k }, serve.output().slice(-2_000)).toEqual({ code: null, signal: 'SIGKILL', kill: k });
        if (/herald serve started/.test(serve.output())) killedAfterStart++;
        if (/notification (sent|failed)/.test(serve.output()) || sink.requests.length > requestsBefore) killedWhileSending++;
      }
    } finally {
      pushing = false;
      await pusher;
    }

    // A final clean run: the receiver stops failing, retries are due, and check sends everything.
    failRate = 0;
    await sleep(600);
    const final = await herald(['check', '-c', config, '--json']);
    expect(final.code, final.stderr.slice(-2_000)).toBe(0);
    const report = JSON.parse(final.stdout) as { images: Array<{ status: string }>; deliveries: { pending: number; failed: number } };
    expect(report.deliveries).toMatchObject({ pending: 0, failed: 0 });
    expect(report.images.every((i) => i.status !== 'error')).toBe(true);

    const listed = await herald(['events', '-c', config, '--json', '--limit', '1000000']);
    expect(listed.code, listed.stderr).toBe(0);
    const events = JSON.parse(listed.stdout) as EventJson[];
    const updates = events.filter((e) => e.status === 'update');
    expect(updates.length).toBeGreaterThanOrEqual(5);

    // Every recorded update was delivered, and its deliveries are all marked sent.
    const deliveredCount = new Map<string, number>();
    for (const id of delivered) deliveredCount.set(id, (deliveredCount.get(id) ?? 0) + 1);
    const lost = updates.filter((e) => !deliveredCount.has(e.id));
    expect(lost.map((e) => `${e.image} ${e.digest}`)).toEqual([]);
    expect(updates.filter((e) => e.deliveries.some((d) => d.status !== 'sent'))).toEqual([]);
    // Nothing arrived that herald does not have on record.
    const known = new Set(events.map((e) => e.id));
    expect([...deliveredCount.keys()].filter((id) => !known.has(id))).toEqual([]);
    // No false update: both digests of every update were really pushed under that tag.
    for (const e of updates) {
      expect(pushed.get(e.image)?.has(e.digest), `${e.image} ${e.digest}`).toBe(true);
      expect(e.previousDigest !== null && pushed.get(e.image)?.has(e.previousDigest)).toBe(true);
      expect(e.digest).not.toBe(e.previousDigest);
    }
    const duplicates = [...deliveredCount.values()].reduce((sum, n) => sum + (n - 1), 0);
    expect(duplicates).toBeLessThanOrEqual(KILLS);

    const db = new Database(join(tmp.dir, 'data', 'herald.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }

    console.log(
      `crash-loop figures: ${JSON.stringify({
        seed: SEED,
        kills: KILLS,
        killedAfterStart,
        killedWhileSending,
        pushes,
        updatesRecorded: updates.length,
        deliveriesReceived: delivered.length,
        receiverFailuresInjected: sinkFailures,
        lost: lost.length,
        duplicates,
        integrity: 'ok',
      })}`,
    );
  }, LONG ? 900_000 : 120_000);
});
