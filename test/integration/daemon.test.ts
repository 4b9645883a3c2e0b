/**
 * The daemon in-process, as `herald serve` runs it: a real registry, real webhook receivers, real HTTP
 * requests to its server and a real database, with only the config loader, the clock and the log
 * destination given by the test. What is checked is what an operator sees: the API's answers, the
 * receivers' requests, the log lines, and a database another writer can open after the stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { freePort } from '../../fixtures/ports.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { registryEntry, tempDir, writeConfig } from './helpers.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, type Logger } from '../../src/util/log.js';
import { Store } from '../../src/store/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { routeSignals } from '../../src/daemon/signals.js';

/** The daemon's clock: every run is stamped with this time. */
const CLOCK = new Date('2031-05-06T07:08:09.000Z');
const REPO = 'team/app';

let registry: TestRegistry;
let first: HttpSink;
let second: HttpSink;

beforeAll(async () => {
  registry = await startRegistry();
  first = await startHttpSink();
  // Answers 503 while `refusing` is set: a delivery that is left pending.
  second = await startHttpSink(() => (refusing ? { status: 503, body: 'busy' } : undefined));
});
afterAll(async () => {
  await first?.close();
  await second?.close();
  await registry?.stop();
});
let refusing = false;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capture(): { lines: LogLine[]; logger: Logger; count: (msg: RegExp) => number } {
  const lines: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', destination, pretty: false }), count: (msg) => lines.filter((l) => msg.test(l.msg)).length };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `promise`, or a failure naming `what` after `ms`. */
async function within<T>(what: string, promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One request on a connection of its own, as curl makes it (a kept-alive one could outlive a server move). */
function get(address: string, path: string, method = 'GET'): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`http://${address}${path}`, { method, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${address}${path} within 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

interface Setup {
  dbPath: string;
  image: string;
  /** A config file's text: this listen address, these notifiers (name → receiver URL). */
  yaml(listen: string | undefined, notifiers: Record<string, string>, watch?: string): string;
}

function setup(dir: string): Setup {
  const dbPath = join(dir, 'data', 'herald.db');
  const image = `${registry.host}/${REPO}:1`;
  return {
    dbPath,
    image,
    yaml: (listen, notifiers, watch = 'watch: { schedule: "0 0 1 1 *", runOnStartup: true, jitter: 0 }') =>
      [
        `db: { path: ${dbPath} }`,
        watch,
        'registries:',
        registryEntry('local', registry.host, registry),
        'images:',
        `  - name: ${image}`,
        ...(Object.keys(notifiers).length > 0 ? ['notifiers:'] : []),
        ...Object.entries(notifiers).flatMap(([name, url]) => [`  - name: ${name}`, '    type: webhook', `    url: ${url}`]),
        ...(listen !== undefined ? [`server: { listen: "${listen}" }`] : []),
        '',
      ].join('\n'),
  };
}

describe('the daemon, started, reloaded and stopped in-process', () => {
  let tmp: ReturnType<typeof tempDir>;
  let s: Setup;
  let file: string;
  let log: ReturnType<typeof capture>;
  let daemon: Daemon;
  let address: string;

  beforeAll(async () => {
    await registry.pushImage(REPO, '1', { seed: 'app-v1' });
    tmp = tempDir();
    s = setup(tmp.dir);
    address = `127.0.0.1:${await freePort()}`;
    file = writeConfig(tmp.dir, s.yaml(address, { first: `${first.url}/hook` }));
    log = capture();
    daemon = new Daemon({ loadConfig: () => loadConfig(file, {}), logger: log.logger, now: () => new Date(CLOCK) });
  });
  afterAll(async () => {
    await daemon?.stop('test end');
    tmp?.cleanup();
  });

  it('runs at start-up and stores what it found, stamped with its clock', async () => {
    await within('start', daemon.start());
    expect(daemon.address).toBe(address);
    await until('the start-up run', () => log.count(/^run finished/) === 1);

    const images = await get(address, '/api/images');
    expect(images.status).toBe(200);
    const pushed = await registry.pushImage(REPO, '1', { seed: 'app-v1' }); // same content: same digest
    expect(images.json).toEqual([expect.objectContaining({ image: s.image, digest: pushed.digest, lastChecked: CLOCK.toISOString(), error: null })]);
    const health = await get(address, '/healthz');
    expect(health.json).toMatchObject({ status: 'ok', lastRunFinishedAt: CLOCK.toISOString() });
    // A first sighting is stored, not notified (firstCheckNotify is off).
    expect(first.requests).toHaveLength(0);
  });

  it('keeps the running config when the new one is bad, and says why in one log line', async () => {
    const good = s.yaml(address, { first: `${first.url}/hook` });
    writeConfig(tmp.dir, good.replace('jitter: 0', 'jitter: 0, wrokers: 2'));
    expect(await within('reload', daemon.reload())).toBe('rejected');
    writeConfig(tmp.dir, good.replace(/^watch: .*$/m, 'watch: { runOnStartup: true }'));
    expect(await within('reload', daemon.reload())).toBe('rejected');

    const rejections = log.lines.filter((l) => l.msg.startsWith('config reload rejected, keeping the running config: ')).map((l) => l.msg);
    expect(rejections).toHaveLength(2);
    expect(rejections[0]).toMatch(/herald\.yml:\d+:\d+: watch\.wrokers/);
    expect(rejections[1]).toMatch(/watch\.schedule: required by serve/);
    // Still serving, and still running on the old config.
    expect((await get(address, '/api/check', 'POST')).status).toBe(202);
    await until('a run after the rejections', () => log.count(/^run finished/) === 2);
    expect((await get(address, '/healthz')).json).toMatchObject({ status: 'ok' });
  });

  it('moves the HTTP server when server.listen changes, and stays where it was when the new address cannot be opened', async () => {
    const moved = `127.0.0.1:${await freePort()}`;
    writeConfig(tmp.dir, s.yaml(moved, { first: `${first.url}/hook` }));
    expect(await within('reload', daemon.reload())).toBe('reloaded');
    expect(daemon.address).toBe(moved);
    expect((await get(moved, '/healthz')).status).toBe(200);
    await expect(get(address, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    address = moved;

    // An address already taken: the reload is rejected and the server answers at its address again.
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = `127.0.0.1:${(blocker.address() as { port: number }).port}`;
      writeConfig(tmp.dir, s.yaml(taken, { first: `${first.url}/hook` }));
      expect(await within('reload', daemon.reload())).toBe('rejected');
      expect(log.lines.at(-1)?.msg).toMatch(new RegExp(`^config reload rejected, keeping the running config: server\\.listen: cannot listen on ${taken}: address already in use`));
      expect(daemon.address).toBe(address);
      expect((await get(address, '/healthz')).status).toBe(200);
    } finally {
      blocker.close();
    }
  });

  it('delivers through the notifiers of a reloaded config', async () => {
    writeConfig(tmp.dir, s.yaml(address, { second: `${second.url}/hook` }));
    expect(await within('reload', daemon.reload())).toBe('reloaded');
    const pushed = await registry.pushImage(REPO, '1', { seed: 'app-v2' });
    const runs = log.count(/^run finished/);
    expect((await get(address, '/api/check', 'POST')).status).toBe(202);
    await until('the run', () => log.count(/^run finished/) > runs);
    await until('the delivery', () => second.requests.length === 1);

    const body = JSON.parse(second.requests[0]!.body.toString('utf8'));
    expect(body.events).toEqual([expect.objectContaining({ status: 'update', image: s.image, digest: pushed.digest, detectedAt: CLOCK.toISOString() })]);
    expect(first.requests).toHaveLength(0);
    await until('the delivery to be recorded', () => log.count(/^notification sent$/) === 1);
    const events = (await get(address, '/api/events?limit=1')).json;
    expect(events[0].deliveries).toEqual([expect.objectContaining({ notifier: 'second', status: 'sent' })]);
  });

  it('stops: leaves an undelivered notification pending, closes the port and the database', async () => {
    refusing = true;
    await registry.pushImage(REPO, '1', { seed: 'app-v3' });
    const runs = log.count(/^run finished/);
    expect((await get(address, '/api/check', 'POST')).status).toBe(202);
    await until('the run', () => log.count(/^run finished/) > runs);
    await until('the refused delivery', () => log.count(/^notification failed, will retry/) === 1);

    const started = Date.now();
    await within('stop', daemon.stop('test'), 10_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(log.lines.find((l) => l.msg === 'deliveries left pending for the next start')).toMatchObject({ pending: 1 });
    expect(log.lines.at(-1)?.msg).toBe('stopped');
    await expect(get(address, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    // A second stop is the same stop.
    await within('second stop', daemon.stop('again'), 1_000);

    // The writer lock is free: the next serve or check can open the database, and finds the delivery pending.
    const next = Store.open(s.dbPath, { writer: 'check' });
    try {
      expect(next.deliveries.counts()).toMatchObject({ pending: 1 });
    } finally {
      next.close();
    }
  });
});

describe('the daemon with signals and start-up failures', () => {
  it('honours a SIGTERM that comes during start-up once start-up is done, without a start-up run; SIGHUP reloads', async () => {
    const tmp = tempDir();
    try {
      const s = setup(tmp.dir);
      const file = writeConfig(tmp.dir, s.yaml(undefined, {}));
      const log = capture();
      const daemon = new Daemon({ loadConfig: () => loadConfig(file, {}), logger: log.logger });
      // An emitter stands in for the process, whose real signals would reach the test runner too.
      const proc = new EventEmitter();
      const release = routeSignals(daemon, proc);
      try {
        const starting = daemon.start();
        proc.emit('SIGHUP');
        proc.emit('SIGTERM');
        await within('start', starting);
        await within('the stop', daemon.stopped);
        const order = log.lines.map((l) => l.msg).filter((m) => ['herald serve started', 'stopping', 'stopped', 'config reloaded'].includes(m) || m.startsWith('run finished'));
        // The reload asked during start-up is skipped: the stop came too.
        expect(order).toEqual(['herald serve started', 'stopping', 'stopped']);
        expect(log.lines.find((l) => l.msg === 'stopping')).toMatchObject({ signal: 'SIGTERM' });
        expect(proc.listenerCount('SIGTERM')).toBe(1);
      } finally {
        release();
      }
      expect(proc.listenerCount('SIGTERM') + proc.listenerCount('SIGINT') + proc.listenerCount('SIGHUP')).toBe(0);
    } finally {
      tmp.cleanup();
    }
  });

  it('fails to start with a ConfigError (exit 2) naming server.listen when the address is taken, and frees the database', async () => {
    const tmp = tempDir();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const s = setup(tmp.dir);
      const taken = `127.0.0.1:${(blocker.address() as { port: number }).port}`;
      const file = writeConfig(tmp.dir, s.yaml(taken, {}));
      const daemon = new Daemon({ loadConfig: () => loadConfig(file, {}), logger: capture().logger });
      const failure = await within('start', daemon.start()).catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(ConfigError);
      expect((failure as ConfigError).exitCode).toBe(2);
      expect((failure as Error).message).toBe(`server.listen: cannot listen on ${taken}: address already in use`);
      // Nothing to stop, and the lock was released.
      await within('stop', daemon.stop('test'), 1_000);
      Store.open(s.dbPath, { writer: 'check' }).close();
    } finally {
      blocker.close();
      tmp.cleanup();
    }
  });
});
