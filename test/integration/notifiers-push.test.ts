// gotify and pushover against receivers that validate as the services document
// (test/fixtures/gotify-sink.ts, pushover-sink.ts): a sample, a real update with containers,
// templates, a batch split within the limits, the service's own errors and rate-limit answers,
// the latter through a real Outbox drain as `herald check` runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeHttpAgent } from '../../src/notify/http.js';
import { PUSHOVER_LIMITS } from '../../src/notify/notifiers/pushover.js';
import { GOTIFY_LIMITS } from '../../src/notify/notifiers/gotify.js';
import { startGotifySink, gotifyError, type GotifySink } from '../fixtures/gotify-sink.js';
import { startPushoverSink, type PushoverSink } from '../fixtures/pushover-sink.js';
import { batch, drainOnce, failure, makeNotifier, message, updateWithContainers } from './push-helpers.js';

const GOTIFY_TOKEN = 'AgotifyT0ken.Xy9';
const APP = 'azGDORePK8gMaC0QOYAMyEEuzJnyUi';
const USER = 'uQiRzpo4DXghDmr9QzzfQu27cmVRsG';
const SECRETS = [GOTIFY_TOKEN, APP, USER];

afterAll(() => closeHttpAgent());

describe('gotify', () => {
  let sink: GotifySink;
  beforeAll(async () => {
    sink = await startGotifySink([GOTIFY_TOKEN]);
  });
  afterAll(() => sink.close());
  const gotify = (extra: Record<string, unknown> = {}) =>
    makeNotifier({ name: 'phone', type: 'gotify', url: `${sink.url}/gotify/`, token: GOTIFY_TOKEN, priority: 7, timeout: '2s', ...extra });

  it('posts a valid message for the sample, with the hub link as click URL', async () => {
    await gotify().send(message());
    const req = sink.requests.at(-1)!;
    expect(req.path).toBe('/gotify/message');
    expect(req.headers['x-gotify-key']).toBe(GOTIFY_TOKEN);
    expect(sink.verdicts.at(-1)).toEqual([]);
    const m = sink.messages.at(-1)!;
    expect(m.title).toBe('update: docker.io/library/nginx:1.27');
    expect(m.priority).toBe(7);
    expect(m.message).toContain('digest:   0a399eb16751 → 5f0574409b3a');
    expect(m.message).toContain('platform: linux/amd64');
    expect(m.message).toContain('link:     https://hub.docker.com/_/nginx');
    expect(m.extras).toEqual({ 'client::display': { contentType: 'text/plain' }, 'client::notification': { click: { url: 'https://hub.docker.com/_/nginx' } } });
  });

  it('names the containers of a real update and which are outdated; templates override', async () => {
    await gotify().send(message([updateWithContainers()]));
    expect(sink.messages.at(-1)!.message).toContain('containers: shop-api-1 (outdated), shop-api-2');
    expect(sink.messages.at(-1)!.message).toContain('link:     https://github.com/acme/shop-api');
    await gotify({ templateTitle: '{{ image }} moved', templateBody: '{{ tag }} is now {{ digest | short }}' }).send(message([updateWithContainers()]));
    expect(sink.messages.at(-1)).toMatchObject({ title: 'ghcr.io/acme/shop-api:2.4 moved', message: '2.4 is now 5f0574409b3a' });
  });

  it('splits a batch over its limit into valid messages, in order, each event once', async () => {
    const before = sink.messages.length;
    const events = batch(60);
    await gotify({ batch: true }).send(message(events));
    const parts = sink.messages.slice(before);
    expect(parts.length).toBeGreaterThan(1);
    expect(sink.verdicts.slice(-parts.length).every((v) => v.length === 0)).toBe(true);
    parts.forEach((p, i) => {
      expect(p.message.length).toBeLessThanOrEqual(GOTIFY_LIMITS.message);
      expect(p.title).toBe(`${p.message.split('\n\n').length} image changes (${i + 1}/${parts.length})`);
    });
    const images = parts.flatMap((p) => [...p.message.matchAll(/^update: (\S+)$/gm)].map((m) => m[1]));
    expect(images).toEqual(events.map((e) => e.image));
  });

  it('maps answers: 401 and 403 permanent with Gotify\'s description, 5xx retried', async () => {
    const wrong = await failure(gotify({ token: 'not-the-token' }).send(message()), [...SECRETS, 'not-the-token']);
    expect(wrong).toMatchObject({ permanent: true });
    expect(wrong.message).toBe(`gotify phone: POST ${sink.url}/… answered 401: you need to provide a valid access token or user credentials to access this api`);
    sink.enqueue(gotifyError(403, 'Forbidden', 'you are not allowed to access this api'), gotifyError(500, 'Internal Server Error', 'database is locked'));
    expect(await failure(gotify().send(message()), SECRETS)).toMatchObject({ permanent: true });
    const e500 = await failure(gotify().send(message()), SECRETS);
    expect(e500).toMatchObject({ permanent: false });
    expect(e500.message).toMatch(/answered 500: database is locked$/);
  });

  it('waits out a proxy\'s 503 Retry-After within the drain and delivers once', async () => {
    const before = sink.messages.length;
    sink.enqueue({ status: 503, headers: { 'retry-after': '1' }, body: 'upstream busy' });
    const { result, delivery, ms } = await drainOnce(gotify({ name: 'drained' }), [updateWithContainers()]);
    expect(result).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2 });
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(sink.messages.length - before).toBe(1);
  });

  it('has a receiver that rejects what Gotify rejects', async () => {
    const post = async (body: unknown, token = GOTIFY_TOKEN) => {
      const res = await fetch(`${sink.url}/message`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-gotify-key': token }, body: JSON.stringify(body) });
      return [res.status, ((await res.json()) as { errorDescription?: string }).errorDescription];
    };
    expect(await post({ title: 'only a title' })).toEqual([400, "Field 'message' is required"]);
    expect(await post({ message: 'x', priority: 'high' })).toEqual([400, "Field 'priority' must be an integer"]);
    expect(await post({ message: 'x', extras: { click: 'y' } })).toEqual([400, 'extras key click is not namespaced (namespace::key)']);
    expect((await post({ message: 'x' }, 'wrong'))[0]).toBe(401);
    expect((await post({ message: 'x' }))[0]).toBe(200);
  });
});

describe('pushover', () => {
  let sink: PushoverSink;
  beforeAll(async () => {
    sink = await startPushoverSink([APP], [USER]);
  });
  afterAll(() => sink.close());
  const pushover = (extra: Record<string, unknown> = {}) =>
    makeNotifier({ name: 'push', type: 'pushover', userKey: USER, appToken: APP, apiUrl: sink.url, sound: 'magic', timeout: '2s', ...extra });

  it('posts a valid message for the sample and for a real update with containers', async () => {
    await pushover({ priority: 1 }).send(message());
    expect(sink.requests.at(-1)!.path).toBe('/1/messages.json');
    expect(sink.verdicts.at(-1)).toEqual([]);
    expect(sink.messages.at(-1)).toMatchObject({
      token: APP, user: USER, priority: 1, sound: 'magic', title: 'update: docker.io/library/nginx:1.27',
      url: 'https://hub.docker.com/_/nginx', url_title: 'docker.io/library/nginx:1.27',
    });
    expect(sink.messages.at(-1)!.message).toContain('tag:      1.27\ndigest:   0a399eb16751 → 5f0574409b3a\nplatform: linux/amd64');
    await pushover().send(message([updateWithContainers()]));
    expect(sink.verdicts.at(-1)).toEqual([]);
    expect(sink.messages.at(-1)!.message).toContain('containers: shop-api-1 (outdated), shop-api-2');
  });

  it('splits a batch into messages within 1024 characters, and cuts one event that alone is too long', async () => {
    const before = sink.messages.length;
    const events = batch(12);
    await pushover({ batch: true }).send(message(events));
    const parts = sink.messages.slice(before);
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(sink.verdicts.slice(-parts.length).every((v) => v.length === 0)).toBe(true);
    for (const p of parts) expect(String(p.message).length).toBeLessThanOrEqual(PUSHOVER_LIMITS.message);
    const images = parts.flatMap((p) => [...String(p.message).matchAll(/^update: (\S+)$/gm)].map((m) => m[1]));
    expect(images).toEqual(events.map((e) => e.image));
    expect(parts.map((p) => String(p.title).slice(-6))).toContain(` (1/${parts.length})`);

    const huge = { ...updateWithContainers(), status: 'error' as const, error: 'e'.repeat(5_000), image: `x/${'y'.repeat(400)}:1` };
    await pushover().send(message([huge]));
    expect(sink.verdicts.at(-1)).toEqual([]);
    expect(String(sink.messages.at(-1)!.title).length).toBeLessThanOrEqual(PUSHOVER_LIMITS.title);
    expect(String(sink.messages.at(-1)!.message)).toMatch(/…$/);
  });

  it('maps status 0 with its errors: 4xx permanent with Pushover\'s reason, no keys in the line', async () => {
    const badUser = await failure(pushover({ userKey: 'u'.repeat(30) }).send(message()), [...SECRETS, 'u'.repeat(30)]);
    expect(badUser).toMatchObject({ permanent: true });
    expect(badUser.message).toBe(`pushover push: POST ${sink.url}/… answered 400: user identifier is not a valid user, group, or subscribed user key`);
    const badSound = await failure(pushover({ sound: 'not a sound' }).send(message()), SECRETS);
    expect(badSound.message).toMatch(/answered 400: sound is invalid$/);
    sink.enqueue({ status: 500, body: '<html>oops</html>' }, { status: 200, body: '{"status":0,"errors":["queue full"]}' });
    expect(await failure(pushover().send(message()), SECRETS)).toMatchObject({ permanent: false });
    expect(await failure(pushover().send(message()), SECRETS)).toMatchObject({ permanent: true, message: expect.stringMatching(/without status 1: queue full$/) as unknown as string });
  });

  it('honours the quota 429 and its X-Limit-App-Reset within the drain, delivering once', async () => {
    const before = sink.messages.length;
    sink.overQuotaOnce(1_500);
    const { result, delivery, ms } = await drainOnce(pushover({ name: 'drained' }), [updateWithContainers()]);
    expect(result).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(delivery).toMatchObject({ status: 'sent', attempts: 2 });
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(sink.messages.length - before).toBe(1);
  });
});
