import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { Scheduler } from '../../../src/watch/scheduler.js';
import { createLogger } from '../../../src/util/log.js';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination, pretty: false }) };
}

describe('scheduler', () => {
  it('runs on a seconds schedule and skips a tick while a run is still going', async () => {
    const { lines, logger } = capture();
    let runs = 0;
    let release!: () => void;
    const s = new Scheduler({
      schedule: '* * * * * *',
      jitterMs: 0,
      logger,
      run: async () => {
        runs++;
        await new Promise<void>((r) => (release = r));
      },
    });
    s.start();
    const end = Date.now() + 3500;
    while (runs === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(runs).toBe(1);
    expect(s.running).toBe(true);
    // A second trigger while the first run is held open is refused, and logged.
    expect(await s.trigger('api')).toBe(false);
    await new Promise((r) => setTimeout(r, 1200)); // at least one cron tick passes meanwhile
    expect(runs).toBe(1);
    expect(lines.filter((l) => l.msg === 'previous run still in progress; skipping this one').length).toBeGreaterThanOrEqual(2);
    release();
    expect(await s.stop(1000)).toMatch(/idle|finished/);
  });

  it('waits a random jitter before a scheduled run, and stop() abandons a run that outlives the grace', async () => {
    const { lines, logger } = capture();
    let started = 0;
    const s = new Scheduler({
      schedule: '* * * * * *',
      jitterMs: 300,
      logger,
      run: async () => {
        started = Date.now();
        await new Promise(() => undefined); // never ends
      },
    });
    s.start();
    const end = Date.now() + 3500;
    while (started === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(started).toBeGreaterThan(0);
    const jitter = lines.find((l) => l.msg === 'jitter before run');
    expect(jitter?.delayMs).toBeGreaterThanOrEqual(0);
    expect(jitter?.delayMs).toBeLessThan(300);
    const t0 = Date.now();
    expect(await s.stop(200)).toBe('abandoned');
    expect(Date.now() - t0).toBeLessThan(3_000); // the run never ends: stop() gave up on it
  });

  it('honours a timezone', () => {
    const { logger } = capture();
    const s = new Scheduler({ schedule: '0 9 * * *', timezone: 'Asia/Tokyo', jitterMs: 0, logger, run: async () => undefined });
    s.start();
    const next = s.nextRun!;
    // 09:00 in Tokyo is 00:00 UTC.
    expect(next.getUTCHours()).toBe(0);
    expect(next.getUTCMinutes()).toBe(0);
    void s.stop(0);
  });
});

describe('logs', () => {
  it('redact secrets by key and mask credentials in URLs', () => {
    const { lines, logger } = capture();
    logger.info({ password: 'hunter22', registry: { token: 'tok-123' }, headers: { Authorization: 'Bearer abc' }, url: 'https://bot:s3cret@registry.example.com/v2/' }, 'see https://u:p4ss@h.example/x');
    const text = JSON.stringify(lines);
    for (const secret of ['hunter22', 'tok-123', 'Bearer abc', 's3cret', 'p4ss']) expect(text).not.toContain(secret);
    expect(lines[0]!.url).toBe('https://***@registry.example.com/v2/');
  });
});
