// The notifiers against real receivers on loopback: an SMTP server (plain, STARTTLS, implicit TLS,
// AUTH), an HTTP receiver that answers as told, and a Slack stand-in that validates Block Kit.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { closeHttpAgent } from '../../src/notify/http.js';
import { NotifyError, type Notifier } from '../../src/notify/notifier.js';
import { createNotifier, notifierSchema } from '../../src/notify/notifiers/index.js';
import { sampleEvent } from '../../src/notify/sample.js';
import type { HeraldEvent } from '../../src/model/event.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { startSlackSink, validateSlackPayload, type SlackSink } from '../fixtures/slack-sink.js';
import { makeSelfSignedCert, startSmtpSink, type SelfSignedCert } from '../fixtures/smtp-sink.js';
import { freePort as closedPort } from '../../fixtures/ports.js';

const PASSWORD = 'pw-Tr0ub4dor-smtp';
const SECRET = 'whsec-9f8e7d6c5b4a';
const BEARER = 'Bearer tok-abcdef123456';
const SLACK_PATH = '/services/T0000/B0000/XXXXslacksecretXXXX';

const notifiers: Notifier[] = [];
function notifier(config: Record<string, unknown>): Notifier {
  const n = createNotifier(notifierSchema.parse(config), { logger: silentLogger });
  notifiers.push(n);
  return n;
}

let deliveries = 0;
function message(events: HeraldEvent[] = [sampleEvent()]) {
  return { deliveryId: `dlv-${++deliveries}`, events };
}

/** The NotifyError a send failed with; also checks that its message is one line without secrets. */
async function failure(promise: Promise<unknown>): Promise<NotifyError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NotifyError);
  const { message: text } = err as NotifyError;
  expect(text).not.toContain('\n');
  for (const secret of [PASSWORD, SECRET, BEARER, 'tok-abcdef123456', SLACK_PATH, 'XXXXslacksecretXXXX', 'secret-path']) expect(text).not.toContain(secret);
  return err as NotifyError;
}

const errorEvent = (error: string): HeraldEvent => ({
  ...sampleEvent(), status: 'error', digest: null, previousDigest: null, platformDigest: null, previousPlatformDigest: null, created: null, error,
});

afterAll(async () => {
  await Promise.all(notifiers.map((n) => n.close()));
  await closeHttpAgent();
});

describe('mail', () => {
  let cert: SelfSignedCert;
  beforeAll(async () => {
    cert = await makeSelfSignedCert();
  });
  afterAll(async () => {
    await cert.remove();
  });

  const mailConfig = (port: number, extra: Record<string, unknown> = {}) => ({
    name: 'ops-mail', type: 'mail', host: '127.0.0.1', port, from: 'herald@example.com',
    to: ['ops@example.com', 'dev@example.com'], timeout: '2s', ...extra,
  });

  it('sends subject, text and escaped HTML to several recipients over plain SMTP', async () => {
    const sink = await startSmtpSink();
    try {
      const events = [sampleEvent(), errorEvent('<script>alert(1)</script> & registry said no')];
      const msg = message([events[0]!]);
      await notifier(mailConfig(sink.port)).send(msg);
      await notifier(mailConfig(sink.port, { name: 'm2' })).send(message(events));
      expect(sink.messages).toHaveLength(2);
      const [first, batch] = sink.messages;
      expect(first!.to).toEqual(['ops@example.com', 'dev@example.com']);
      expect(first!.from).toBe('herald@example.com');
      expect(first!.secure).toBe(false);
      const parsed = first!.parsed;
      expect(parsed.subject).toBe('[herald] update: docker.io/library/nginx:1.27');
      expect(parsed.messageId).toBe(`<${msg.deliveryId}@herald>`);
      expect(parsed.headers.get('x-herald-delivery')).toBe(msg.deliveryId);
      expect(parsed.text).toContain('update: docker.io/library/nginx:1.27\ntag:      1.27\n');
      expect(parsed.text).toContain('digest:   0a399eb16751 → 5f0574409b3a\nplatform: linux/amd64\ncreated:  2026-11-20T10:00:00Z\nlink:     https://hub.docker.com/_/nginx');
      expect(parsed.html).toContain('<a href="https://hub.docker.com/_/nginx">');
      expect(batch!.parsed.subject).toBe('[herald] 2 image changes');
      expect(batch!.parsed.text).toContain('error:    <script>alert(1)</script> & registry said no');
      expect(batch!.parsed.html).not.toContain('<script>');
      expect(batch!.parsed.html).toContain('&#60;script&#62;alert(1)&#60;/script&#62; &#38; registry said no');
    } finally {
      await sink.close();
    }
  });

  it('uses templateTitle and templateBody', async () => {
    const sink = await startSmtpSink();
    try {
      await notifier(mailConfig(sink.port, { name: 'm3', templateTitle: '{{ image | upcase }} is {{ status }}', templateBody: 'new digest {{ digest | short }}' })).send(message());
      expect(sink.messages[0]!.parsed.subject).toBe('DOCKER.IO/LIBRARY/NGINX:1.27 is update');
      expect(sink.messages[0]!.parsed.text?.trim()).toBe('new digest 5f0574409b3a');
    } finally {
      await sink.close();
    }
  });

  it('upgrades with STARTTLS and authenticates; a wrong password is permanent', async () => {
    const sink = await startSmtpSink({ tls: cert, auth: { username: 'bot', password: PASSWORD } });
    try {
      const base = mailConfig(sink.port, { username: 'bot', tls: { rejectUnauthorized: false } });
      await notifier({ ...base, name: 'tls1', password: PASSWORD }).send(message());
      expect(sink.messages[0]).toMatchObject({ secure: true, user: 'bot' });

      const err = await failure(notifier({ ...base, name: 'tls2', password: `${PASSWORD}-wrong` }).send(message()));
      expect(err.permanent).toBe(true);
      expect(err.message).toMatch(/^mail tls2: .*535/);
      expect(err.message).not.toContain(`${PASSWORD}-wrong`);
      expect(sink.authFailures).toBe(1);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await sink.close();
    }
  });

  it('verifies the server certificate against tls.caFile, and fails without it', async () => {
    const sink = await startSmtpSink({ tls: cert, auth: { username: 'bot', password: PASSWORD } });
    try {
      const base = mailConfig(sink.port, { username: 'bot', password: PASSWORD });
      await notifier({ ...base, name: 'ca1', tls: { caFile: cert.certPath } }).send(message());
      expect(sink.messages[0]).toMatchObject({ secure: true, user: 'bot' });

      const err = await failure(notifier({ ...base, name: 'ca2' }).send(message()));
      expect(err.message).toMatch(/certificate/i);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await sink.close();
    }
  });

  it('speaks implicit TLS with secure: true', async () => {
    const sink = await startSmtpSink({ tls: cert, secure: true });
    try {
      await notifier(mailConfig(sink.port, { name: 'tls3', secure: true, tls: { caFile: cert.certPath } })).send(message());
      expect(sink.messages[0]?.secure).toBe(true);
    } finally {
      await sink.close();
    }
  });

  it('treats refused recipients as permanent and a refused connection as retryable', async () => {
    const sink = await startSmtpSink({ rejectRecipients: ['ops@example.com', 'dev@example.com'] });
    try {
      const rejected = await failure(notifier(mailConfig(sink.port, { name: 'rcpt' })).send(message()));
      expect(rejected.permanent).toBe(true);
    } finally {
      await sink.close();
    }
    const refused = await failure(notifier(mailConfig(await closedPort(), { name: 'down' })).send(message()));
    expect(refused.permanent).toBe(false);
  });
});

describe('webhook', () => {
  let sink: HttpSink;
  const signatures: boolean[] = [];
  beforeAll(async () => {
    sink = await startHttpSink((req) => {
      const header = req.headers['x-herald-signature'];
      if (header === undefined) return undefined;
      const expected = `sha256=${createHmac('sha256', SECRET).update(req.body).digest('hex')}`;
      const ok = typeof header === 'string' && header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected));
      signatures.push(ok);
      return ok ? undefined : { status: 401, body: 'bad signature' };
    });
  });
  afterAll(() => sink.close());

  const hookConfig = (extra: Record<string, unknown> = {}) => ({
    name: 'hooks', type: 'webhook', url: `${sink.url}/hook/secret-path?token=tok-abcdef123456`, timeout: '2s', ...extra,
  });

  it('sends the events as signed JSON with delivery id, custom headers and method', async () => {
    sink.requests.length = 0;
    const hook = notifier(hookConfig({ method: 'PUT', secret: SECRET, headers: { Authorization: BEARER, 'X-Team': 'web' } }));
    const msg = message();
    await hook.send(msg);
    await hook.send(message([sampleEvent(), sampleEvent()]));
    const [req, batch] = sink.requests;
    expect(signatures).toEqual([true, true]);
    expect(req!.method).toBe('PUT');
    expect(req!.path).toBe('/hook/secret-path?token=tok-abcdef123456');
    expect(req!.headers).toMatchObject({
      'content-type': 'application/json', 'x-herald-delivery': msg.deliveryId, 'x-herald-event': 'update',
      authorization: BEARER, 'x-team': 'web', 'user-agent': expect.stringMatching(/^herald\/\d/) as unknown as string,
    });
    expect(JSON.parse(req!.body.toString('utf8'))).toEqual({ version: 1, events: msg.events });
    expect(batch!.headers['x-herald-event']).toBe('batch');
    expect((JSON.parse(batch!.body.toString('utf8')) as { events: unknown[] }).events).toHaveLength(2);
    for (let i = 0; i < 4; i++) await hook.send(message());
    // The shared agent keeps connections alive: six sends do not need six connections.
    expect(new Set(sink.requests.map((r) => r.remotePort)).size).toBeLessThan(sink.requests.length);
  });

  it('sends POST without a signature by default', async () => {
    sink.requests.length = 0;
    await notifier(hookConfig({ name: 'plain' })).send(message());
    expect(sink.requests[0]!.method).toBe('POST');
    expect(sink.requests[0]!.headers['x-herald-signature']).toBeUndefined();
  });

  it('classifies answers: 5xx and 429 retryable with Retry-After, other 4xx permanent', async () => {
    const hook = notifier(hookConfig({ name: 'status', secret: SECRET, headers: { Authorization: BEARER } }));
    sink.enqueue(
      { status: 500, body: 'boom' },
      { status: 429, headers: { 'retry-after': '7' } },
      { status: 503, headers: { 'retry-after': new Date(Date.now() + 60_000).toUTCString() } },
      { status: 404, body: 'no such hook' },
      { status: 408 },
    );
    const e500 = await failure(hook.send(message()));
    expect(e500).toMatchObject({ permanent: false, retryAfterMs: undefined });
    expect(e500.message).toBe(`webhook status: POST ${sink.url}/… answered 500`);
    expect(await failure(hook.send(message()))).toMatchObject({ permanent: false, retryAfterMs: 7000 });
    const e503 = await failure(hook.send(message()));
    expect(e503.permanent).toBe(false);
    expect(e503.retryAfterMs).toBeGreaterThan(55_000);
    expect(e503.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(await failure(hook.send(message()))).toMatchObject({ permanent: true });
    expect(await failure(hook.send(message()))).toMatchObject({ permanent: false });
    const wrongSecret = await failure(notifier(hookConfig({ name: 'wrong', secret: 'not-the-secret' })).send(message()));
    expect(wrongSecret.permanent).toBe(true);
  });

  it('gives up on a receiver that never answers within the timeout', async () => {
    sink.enqueue('hang');
    const started = Date.now();
    const err = await failure(notifier(hookConfig({ name: 'slow', timeout: '300ms' })).send(message()));
    expect(Date.now() - started).toBeLessThan(5_000); // the receiver never answers: any bound proves the timeout
    expect(err.permanent).toBe(false);
    expect(err.message).toBe(`webhook slow: POST ${sink.url}/…: no complete answer within 300ms`);
  });

  it('retries a refused connection', async () => {
    const port = await closedPort();
    const err = await failure(notifier(hookConfig({ name: 'down', url: `http://127.0.0.1:${port}/secret-path` })).send(message()));
    expect(err.permanent).toBe(false);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('slack', () => {
  let sink: SlackSink;
  beforeAll(async () => {
    sink = await startSlackSink();
  });
  afterAll(() => sink.close());

  const slackConfig = (extra: Record<string, unknown> = {}) => ({ name: 'ops-slack', type: 'slack', webhookUrl: `${sink.url}${SLACK_PATH}`, timeout: '2s', ...extra });
  const lastPayload = () => JSON.parse(sink.requests.at(-1)!.body.toString('utf8')) as { text: string; blocks: Array<{ type: string; text?: { text: string } }> };

  it('posts valid blocks for one event, a batch of 100 and a 10 kB error', async () => {
    const slack = notifier(slackConfig());
    await slack.send(message());
    expect(sink.requests.at(-1)!.path).toBe(SLACK_PATH);
    expect(lastPayload().text).toBe('update: docker.io/library/nginx:1.27');
    expect(lastPayload().blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(lastPayload().blocks[1]!.text!.text).toBe('*<https://hub.docker.com/_/nginx|docker.io/library/nginx:1.27>* — update\n`0a399eb16751` → `5f0574409b3a`');

    const many = Array.from({ length: 100 }, (_, i) => ({ ...sampleEvent(), image: `docker.io/library/app${i}:1` }));
    await slack.send(message(many));
    expect(lastPayload().blocks).toHaveLength(50);
    expect(lastPayload().blocks.at(-1)!.text!.text).toMatch(/^…and 76 more: /);

    await slack.send(message([errorEvent(`registry said <no> & ${'x'.repeat(10_000)}`)]));
    const section = lastPayload().blocks[1]!.text!.text;
    expect(section.length).toBeLessThanOrEqual(3000);
    expect(section).toContain('Error: registry said &lt;no&gt; &amp; xxx');
    expect(section.endsWith('x…')).toBe(true);
    expect(sink.verdicts).toEqual([[], [], []]);
  });

  it('uses templateBody for the main section', async () => {
    await notifier(slackConfig({ name: 'custom', templateBody: ':whale: *{{ image }}* now at `{{ digest | short }}`' })).send(message());
    expect(lastPayload().blocks[1]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: ':whale: *docker.io/library/nginx:1.27* now at `5f0574409b3a`' } });
    expect(sink.verdicts.at(-1)).toEqual([]);
  });

  it("maps Slack's errors: 400 invalid_blocks and 404 no_service permanent, 429 retryable", async () => {
    const slack = notifier(slackConfig({ name: 'errors' }));
    sink.enqueue({ status: 400, body: 'invalid_blocks' }, { status: 404, body: 'no_service' }, { status: 429, headers: { 'retry-after': '3' }, body: 'rate_limited' }, { status: 502 });
    const invalid = await failure(slack.send(message()));
    expect(invalid).toMatchObject({ permanent: true, message: `slack errors: POST ${sink.url}/… answered 400: invalid_blocks` });
    expect(await failure(slack.send(message()))).toMatchObject({ permanent: true, message: expect.stringMatching(/404: no_service$/) as unknown as string });
    expect(await failure(slack.send(message()))).toMatchObject({ permanent: false, retryAfterMs: 3000 });
    expect(await failure(slack.send(message()))).toMatchObject({ permanent: false });
  });

  it('has a sink that rejects what Slack rejects', async () => {
    const post = async (payload: unknown) => {
      const res = await request(`${sink.url}${SLACK_PATH}`, { method: 'POST', body: JSON.stringify(payload), headers: { 'content-type': 'application/json' } });
      return { status: res.statusCode, body: await res.body.text() };
    };
    const header = (text: string) => ({ text: 'fallback', blocks: [{ type: 'header', text: { type: 'plain_text', text } }] });
    expect(await post(header('h'.repeat(150)))).toEqual({ status: 200, body: 'ok' });
    expect(await post(header('h'.repeat(151)))).toEqual({ status: 400, body: 'invalid_blocks' });
    expect(await post({ blocks: [{ type: 'header', text: { type: 'mrkdwn', text: 'bold' } }] })).toEqual({ status: 400, body: 'invalid_blocks' });
    expect(await post({ text: 'x', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 's'.repeat(3001) } }] })).toEqual({ status: 400, body: 'invalid_blocks' });
    expect(await post({ text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) })).toEqual({ status: 400, body: 'invalid_blocks' });
    expect(await post({ text: 'x', blocks: [{ type: 'context', elements: [] }] })).toEqual({ status: 400, body: 'invalid_blocks' });
    expect(await post({ blocks: [] })).toEqual({ status: 400, body: 'invalid_blocks' });
    expect(await post({})).toEqual({ status: 400, body: 'no_text' });
    expect(validateSlackPayload({ text: 'plain only' })).toEqual([]);
  });
});
