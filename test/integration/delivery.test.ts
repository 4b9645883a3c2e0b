/**
 * Notifications end to end, as a user sees them: the real CLI, a real registry, real receivers.
 * A detected update reaches every notifier once, across failures, Retry-After and a SIGKILL.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { startSmtpSink } from '../fixtures/smtp-sink.js';
import { startSlackSink } from '../fixtures/slack-sink.js';
import { herald, killServes, registryEntry, spawnServe, tempDir, until, writeConfig } from './helpers.js';
import { freePort as closedPort } from '../../fixtures/ports.js';

const SECRET = 'webhook-signing-secret-1234';

let registry: TestRegistry;
let seq = 0;

beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});

/** A fresh repository, config and DB per test: nothing leaks between them. */
async function setup(notifiers: string[], extra: string[] = []) {
  const repo = `team/app${++seq}`;
  const image = `${registry.host}/${repo}:1`;
  await registry.pushImage(repo, '1', { seed: `${repo}-v1` });
  const tmp = tempDir();
  const file = writeConfig(
    tmp.dir,
    [
      `db: { path: ${join(tmp.dir, 'herald.db')} }`,
      'watch: { schedule: "0 0 1 1 *", jitter: 0 }',
      'notify: { retry: { attempts: 5, minDelay: 200ms, maxDelay: 1s } }',
      'registries:',
      registryEntry('local', registry.host, registry),
      'images:',
      `  - name: ${image}`,
      'notifiers:',
      ...notifiers,
      ...extra,
    ].join('\n'),
  );
  const push = (v: string) => registry.pushImage(repo, '1', { seed: `${repo}-${v}`, labels: { 'org.opencontainers.image.source': 'https://example.com/src' } });
  return { tmp, file, image, push };
}

function webhook(url: string, more: string[] = [], timeout = '2s'): string[] {
  return ['  - name: hook', '    type: webhook', `    url: ${url}`, `    secret: ${SECRET}`, `    timeout: ${timeout}`, ...more];
}

async function checkJson(file: string) {
  const r = await herald(['check', '-c', file, '--json']);
  return { code: r.code, report: JSON.parse(r.stdout || 'null'), stderr: r.stderr };
}

function deliveryIds(sink: HttpSink): string[] {
  return sink.requests.map((r) => String(r.headers['x-herald-delivery']));
}

describe('webhook delivery through check', () => {
  let sink: HttpSink;
  beforeEach(async () => {
    sink = await startHttpSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  it('a webhook that answers 500 once and 200 later gets the event exactly once, with one delivery id', async () => {
    const { file, image, push, tmp } = await setup(webhook(`${sink.url}/hook`));
    try {
      expect((await checkJson(file)).code).toBe(0); // first sighting: not notified
      expect(sink.requests).toHaveLength(0);

      const pushed = await push('v2');
      sink.enqueue({ status: 500, body: 'boom' });
      const failed = await checkJson(file);
      expect(failed.code).toBe(1);
      expect(failed.report.deliveries).toEqual({ sent: 0, pending: 1, failed: 0 });
      expect(sink.requests).toHaveLength(1);

      await new Promise((r) => setTimeout(r, 400)); // past minDelay
      const retried = await checkJson(file);
      expect(retried.code).toBe(0);
      expect(retried.report.deliveries).toEqual({ sent: 1, pending: 0, failed: 0 });
      expect((await checkJson(file)).code).toBe(0);

      expect(sink.requests).toHaveLength(2);
      const ids = deliveryIds(sink);
      expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(ids[1]).toBe(ids[0]);
      const last = sink.requests[1]!;
      expect(last.method).toBe('POST');
      expect(last.headers['content-type']).toMatch(/^application\/json/);
      expect(last.headers['x-herald-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(last.body).digest('hex')}`);
      const body = JSON.parse(last.body.toString('utf8'));
      expect(body.version).toBe(1);
      expect(body.events).toHaveLength(1);
      expect(body.events[0]).toMatchObject({ status: 'update', image, digest: pushed.digest, labels: { 'org.opencontainers.image.source': 'https://example.com/src' } });

      const events = JSON.parse((await herald(['events', '-c', file, '--json'])).stdout);
      expect(events[0].deliveries).toEqual([
        expect.objectContaining({ notifier: 'hook', status: 'sent', attempts: 2, id: ids[0], lastError: null }),
      ]);
      expect(events[0].deliveries[0].waitMs).toBeGreaterThanOrEqual(200);
      const text = (await herald(['events', '-c', file])).stdout;
      expect(text).toMatch(/hook sent after \S+ \(2 attempts\)/);
    } finally {
      tmp.cleanup();
    }
  });

  it('waits out a short Retry-After within the run', async () => {
    const { file, push, tmp } = await setup(webhook(sink.url));
    try {
      await checkJson(file);
      await push('v2');
      sink.enqueue({ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' });
      const started = Date.now();
      const r = await checkJson(file);
      expect(r.code).toBe(0);
      expect(r.report.deliveries).toEqual({ sent: 1, pending: 0, failed: 0 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(new Set(deliveryIds(sink)).size).toBe(1);
      expect(sink.requests).toHaveLength(2);
    } finally {
      tmp.cleanup();
    }
  });

  it('stops retrying after a permanent 4xx, and says so', async () => {
    const { file, push, tmp } = await setup(webhook(sink.url));
    try {
      await checkJson(file);
      await push('v2');
      sink.enqueue({ status: 404, body: 'no such hook' });
      const r = await checkJson(file);
      expect(r.code).toBe(1);
      expect(r.report.deliveries).toEqual({ sent: 0, pending: 0, failed: 1 });
      expect(r.stderr).toMatch(/failed permanently/);
      await new Promise((res) => setTimeout(res, 300));
      const again = await checkJson(file);
      expect(again.code).toBe(0);
      expect(sink.requests).toHaveLength(1);
      const events = JSON.parse((await herald(['events', '-c', file, '--json'])).stdout);
      expect(events[0].deliveries[0]).toMatchObject({ status: 'failed', attempts: 1, lastError: expect.stringMatching(/404/) });
    } finally {
      tmp.cleanup();
    }
  });

  it('keeps a delivery pending while the receiver refuses connections', async () => {
    const port = await closedPort();
    const { file, push, tmp } = await setup(webhook(`http://127.0.0.1:${port}/hook`));
    try {
      await checkJson(file);
      await push('v2');
      const r = await checkJson(file);
      expect(r.code).toBe(1);
      expect(r.report.deliveries).toMatchObject({ sent: 0, pending: 1 });
      const events = JSON.parse((await herald(['events', '-c', file, '--json'])).stdout);
      expect(events[0].deliveries[0]).toMatchObject({ status: 'pending', attempts: 1, lastError: expect.stringMatching(/refused|ECONNREFUSED/i) });
    } finally {
      tmp.cleanup();
    }
  });

  it('batch: one message per run with every event', async () => {
    const { file, image, tmp } = await setup(webhook(sink.url, ['    batch: true']));
    try {
      // firstCheckNotify through the environment, to notify the first sighting of both images.
      const other = `${registry.host}/team/batch-other:1`;
      await registry.pushImage('team/batch-other', '1');
      const r = await herald(['check', '-c', file, '--json'], { env: { HERALD_WATCH_FIRSTCHECKNOTIFY: 'true', HERALD_IMAGES_1_NAME: other } });
      expect(r.code).toBe(0);
      expect(sink.requests).toHaveLength(1);
      const body = JSON.parse(sink.requests[0]!.body.toString('utf8'));
      expect(body.events.map((e: { status: string; image: string }) => `${e.status} ${e.image}`).sort()).toEqual([`new ${image}`, `new ${other}`].sort());
    } finally {
      tmp.cleanup();
    }
  });
});

describe('mail and slack through check', () => {
  it('sends an update by mail and to Slack with valid Block Kit', async () => {
    const smtp = await startSmtpSink();
    const slack = await startSlackSink();
    const { file, image, push, tmp } = await setup([
      '  - name: ops-mail',
      '    type: mail',
      '    host: 127.0.0.1',
      `    port: ${smtp.port}`,
      '    from: herald@example.com',
      '    to: [ops@example.com, dev@example.com]',
      '  - name: ops-slack',
      '    type: slack',
      `    webhookUrl: ${slack.url}/services/T000/B000/XXXX`,
    ]);
    try {
      await checkJson(file);
      const pushed = await push('v2');
      const r = await checkJson(file);
      expect(r.code).toBe(0);
      expect(r.report.deliveries).toEqual({ sent: 2, pending: 0, failed: 0 });
      expect(smtp.messages).toHaveLength(1);
      const mail = smtp.messages[0]!;
      expect(mail.to.sort()).toEqual(['dev@example.com', 'ops@example.com']);
      expect(mail.parsed.subject).toContain(image);
      expect(mail.parsed.text).toContain(pushed.digest.slice(7, 19));
      expect(mail.parsed.html).toBeTruthy();
      expect(slack.verdicts).toEqual([[]]);
      const payload = JSON.parse(slack.requests[0]!.body.toString('utf8'));
      expect(payload.text).toContain(image);
    } finally {
      await smtp.close();
      await slack.close();
      tmp.cleanup();
    }
  });
});

describe('herald notify test', () => {
  it('reports each notifier, exit 1 when one fails', async () => {
    const sink = await startHttpSink();
    const port = await closedPort();
    const { file, tmp } = await setup([...webhook(sink.url), '  - name: dead', '    type: webhook', `    url: http://127.0.0.1:${port}/`]);
    try {
      const r = await herald(['notify', 'test', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^hook \(webhook\): delivered/m);
      expect(r.stdout).toMatch(/^dead \(webhook\): failed: /m);
      expect(sink.requests).toHaveLength(1);
      const only = await herald(['notify', 'test', '-c', file, '--notifier', 'hook']);
      expect(only.code).toBe(0);
      expect((await herald(['notify', 'test', '-c', file, '--notifier', 'nope'])).code).toBe(2);
    } finally {
      await sink.close();
      tmp.cleanup();
    }
  });
});

describe('herald serve', () => {
  afterEach(killServes);

  it('delivers an event after being SIGKILLed mid-send, and stops with exit 0 on SIGTERM', async () => {
    const sink = await startHttpSink();
    const { file, push, tmp } = await setup(webhook(sink.url, [], '30s'));
    try {
      await checkJson(file);
      const pushed = await push('v2');
      sink.enqueue('hang');
      const first = await spawnServe(file);
      await until(() => sink.requests.length === 1, { what: 'the first send' });
      expect((await first.kill()).code).toBe(null);

      const second = await spawnServe(file);
      await until(() => sink.requests.length === 2, { what: 'the send after the restart' });
      expect(deliveryIds(sink)[1]).toBe(deliveryIds(sink)[0]);
      expect(JSON.parse(sink.requests[1]!.body.toString('utf8')).events[0].digest).toBe(pushed.digest);
      await until(() => /notification sent/.test(second.output()), { what: 'the delivery to be recorded' });
      const stopAt = Date.now();
      expect((await second.stop()).code).toBe(0);
      expect(Date.now() - stopAt).toBeLessThan(10_000);
      const events = JSON.parse((await herald(['events', '-c', file, '--json'])).stdout);
      expect(events[0].deliveries[0]).toMatchObject({ status: 'sent' });
    } finally {
      await sink.close();
      tmp.cleanup();
    }
  });

  it('runs on its schedule without overlap, and keeps the running config when a reload is bad', async () => {
    const sink = await startHttpSink();
    const { file, push, tmp } = await setup(webhook(sink.url), []);
    try {
      const { writeFileSync, readFileSync } = await import('node:fs');
      const every2s = readFileSync(file, 'utf8').replace('schedule: "0 0 1 1 *"', 'schedule: "*/2 * * * * *", runOnStartup: false');
      writeFileSync(file, every2s);
      const serve = await spawnServe(file);
      await until(() => serve.count(/run finished/) >= 1, { what: 'the first scheduled run', timeoutMs: 8000 });
      await push('v2');
      await until(() => sink.requests.length === 1, { what: 'the update to be sent', timeoutMs: 8000 });
      expect(JSON.parse(sink.requests[0]!.body.toString('utf8')).events[0].status).toBe('update');

      writeFileSync(file, every2s.replace('workers', 'wrokers').replace('jitter: 0', 'jitter: 0, wrokers: 2'));
      serve.child.kill('SIGHUP');
      await until(() => /config reload rejected/.test(serve.output()), { what: 'the reload to be rejected' });
      const rejected = serve.output().split('\n').filter((l) => l.includes('config reload rejected'));
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatch(/herald\.yml:\d+:\d+: watch\.wrokers/);
      const runsBefore = serve.count(/run finished/);
      await until(() => serve.count(/run finished/) > runsBefore, { what: 'a run after the rejected reload', timeoutMs: 8000 });

      expect((await serve.stop()).code).toBe(0);
      expect(serve.output()).not.toMatch(/previous run still in progress/);
    } finally {
      await sink.close();
      tmp.cleanup();
    }
  });
});

