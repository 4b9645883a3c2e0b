// ntfy, Discord, Teams and Telegram against receivers on loopback that validate like the real
// services (test/fixtures/*-sink.ts): a sample event, a real update with containers, templates,
// batches split to fit each service's limits with every part valid, and the receivers refusing
// what the services refuse. Retries and error lines through the outbox: notifiers-chat-retry.test.ts.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { closeHttpAgent } from '../../src/notify/http.js';
import type { Notifier } from '../../src/notify/notifier.js';
import { createNotifier, notifierCatalog, notifierSchema } from '../../src/notify/notifiers/index.js';
import { sampleEvent } from '../../src/notify/sample.js';
import type { HeraldEvent } from '../../src/model/event.js';
import { startDiscordSink, type DiscordSink } from '../fixtures/discord-sink.js';
import { startNtfySink, type NtfySink } from '../fixtures/ntfy-sink.js';
import { startTeamsSink, type TeamsSink } from '../fixtures/teams-sink.js';
import { startTelegramSink, type TelegramSink } from '../fixtures/telegram-sink.js';

const BOT_TOKEN = '7012345678:AAF-s3cr3t_bot_token_value';
const CHAT = -1001234567890;
const NTFY_TOKEN = 'tk_ntfysecret0123456789abcdef';

let ntfy: NtfySink;
let discord: DiscordSink;
let teams: TeamsSink;
let telegram: TelegramSink;
beforeAll(async () => {
  [ntfy, discord, teams, telegram] = await Promise.all([startNtfySink({ token: NTFY_TOKEN }), startDiscordSink(), startTeamsSink(), startTelegramSink(BOT_TOKEN, [CHAT])]);
});
const created: Notifier[] = [];
afterAll(async () => {
  await Promise.all(created.map((n) => n.close()));
  await Promise.all([ntfy, discord, teams, telegram].map((s) => s.close()));
  await closeHttpAgent();
});

const configs = {
  ntfy: () => ({ type: 'ntfy', url: ntfy.url, topic: 'herald-ops', token: NTFY_TOKEN, priority: 4, tags: ['whale'] }),
  discord: () => ({ type: 'discord', webhookUrl: discord.webhookUrl }),
  teams: () => ({ type: 'teams', webhookUrl: teams.webhookUrl }),
  telegram: () => ({ type: 'telegram', botToken: BOT_TOKEN, chatId: CHAT, messageThreadId: 7, apiUrl: telegram.apiUrl }),
};
type Type = keyof typeof configs;
const TYPES = Object.keys(configs) as Type[];

function notifier(type: Type, extra: Record<string, unknown> = {}): Notifier {
  const n = createNotifier(notifierSchema.parse({ name: `chat-${type}`, ...configs[type](), ...extra }), { logger: silentLogger });
  created.push(n);
  return n;
}
let ids = 0;
const message = (events: HeraldEvent[]) => ({ deliveryId: `dlv-chat-${++ids}`, events });

/** What each receiver accepted since `from`, as the text a person reads, and every verdict since. */
function received(type: Type, from: { accepted: number; verdicts: number }): { texts: string[]; verdicts: string[][] } {
  const sink = { ntfy, discord, teams, telegram }[type];
  const verdicts = sink.verdicts.slice(from.verdicts);
  const texts =
    type === 'ntfy' ? ntfy.accepted.slice(from.accepted).map((m) => `${m.title}\n${m.message}\n${m.click ?? ''}`)
    : type === 'discord' ? discord.accepted.slice(from.accepted).map((p) => JSON.stringify(p))
    : type === 'teams' ? teams.cards.slice(from.accepted).map((c) => JSON.stringify(c))
    : telegram.accepted.slice(from.accepted).map((m) => `${m.text}\n${m.html}`);
  return { texts, verdicts };
}
function mark(type: Type) {
  const sink = { ntfy, discord, teams, telegram }[type];
  return { accepted: type === 'teams' ? teams.cards.length : (sink as NtfySink).accepted.length, verdicts: sink.verdicts.length };
}

/** A real update of an image two containers run, one of them still on the old digest. */
export function updateWithContainers(): HeraldEvent {
  const event = sampleEvent();
  return {
    ...event, image: 'ghcr.io/acme/shop-api:2.4', registry: 'ghcr.io', repository: 'acme/shop-api', tag: '2.4', hubLink: null,
    labels: { 'org.opencontainers.image.source': 'https://github.com/acme/shop-api' }, metadata: {},
    runningDigest: event.previousDigest,
    containers: [
      { source: 'docker', name: 'shop-api-1', id: 'c1', runningDigest: event.previousDigest, outdated: true },
      { source: 'docker', name: 'shop-api-2', id: 'c2', runningDigest: event.digest, outdated: false },
    ],
  };
}
const manyEvents = (n: number, extra: Partial<HeraldEvent> = {}) =>
  Array.from({ length: n }, (_, i) => ({ ...sampleEvent(), image: `docker.io/acme/app-${String(i).padStart(3, '0')}:1`, ...extra }));

describe.each(TYPES)('%s', (type) => {
  it('delivers a valid message for the sample event: image, tag, status, short digest, platform, link', async () => {
    const from = mark(type);
    await notifier(type).send(message([sampleEvent()]));
    const { texts, verdicts } = received(type, from);
    expect(verdicts).toEqual([[]]);
    expect(texts).toHaveLength(1);
    for (const part of ['update', 'docker.io/library/nginx:1.27', '1.27', '0a399eb16751', '5f0574409b3a', 'linux/amd64', 'https://hub.docker.com/_/nginx']) {
      expect(texts[0]).toContain(part);
    }
  });

  it('names the containers of a real update and which run behind', async () => {
    const from = mark(type);
    await notifier(type).send(message([updateWithContainers()]));
    const { texts, verdicts } = received(type, from);
    expect(verdicts).toEqual([[]]);
    expect(texts[0]).toContain('shop-api-1 (outdated), shop-api-2 — 1 of 2 outdated');
    expect(texts[0]).toContain('https://github.com/acme/shop-api');
  });

  it('uses templateTitle and templateBody', async () => {
    const from = mark(type);
    await notifier(type, { templateTitle: 'New {{ image | upcase }}', templateBody: 'now at {{ digest | short }} on {{ platform }}' }).send(message([sampleEvent()]));
    const { texts, verdicts } = received(type, from);
    expect(verdicts).toEqual([[]]);
    expect(texts[0]).toContain('New DOCKER.IO/LIBRARY/NGINX:1.27');
    expect(texts[0]).toContain('now at 5f0574409b3a on linux/amd64');
  });

  it('splits a batch over the service\'s limits into valid parts that together hold every event', async () => {
    const events = manyEvents(120, { error: `registry said <no> & ${'x'.repeat(600)}`, status: 'error' });
    const from = mark(type);
    await notifier(type, { batch: true }).send(message(events));
    const { texts, verdicts } = received(type, from);
    expect(texts.length).toBeGreaterThan(1);
    expect(verdicts).toEqual(texts.map(() => []));
    for (const event of events) expect(texts.filter((t) => t.includes(event.image))).toHaveLength(1);
    expect(texts[0]).toContain(`120 image changes (1/${texts.length})`);
  });

  it('splits a long templateBody at the limit without breaking a character or an entity', async () => {
    const from = mark(type);
    const body = '{% for e in events %}{{ e.image }} 🐳 {{ "<&>" }} {{ e.error }}\n{% endfor %}';
    await notifier(type, { batch: true, templateBody: body }).send(message(manyEvents(60, { error: '€'.repeat(300) })));
    const { texts, verdicts } = received(type, from);
    expect(texts.length).toBeGreaterThan(1);
    expect(verdicts).toEqual(texts.map(() => []));
    expect(texts.join('')).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});

describe('service specifics', () => {
  it('telegram escapes HTML and sends to the chat and thread with parse_mode HTML', async () => {
    const from = mark('telegram');
    await notifier('telegram').send(message([{ ...sampleEvent(), status: 'error', error: '<b>bold</b> & "quoted"' }]));
    expect(received('telegram', from).verdicts).toEqual([[]]);
    const last = telegram.accepted.at(-1)!;
    expect(last).toMatchObject({ chatId: CHAT, threadId: 7 });
    expect(last.text).toContain('error: <b>bold</b> & "quoted"');
    expect(last.html).toContain('&lt;b&gt;bold&lt;/b&gt; &amp; "quoted"');
    expect(JSON.parse(telegram.requests.at(-1)!.body.toString()).parse_mode).toBe('HTML');
  });

  it('discord packs ≤ 10 embeds and ≤ 6000 characters per message and never pings', async () => {
    const from = mark('discord');
    await notifier('discord', { batch: true }).send(message(manyEvents(23)));
    const sent = discord.accepted.slice(from.accepted) as Array<{ embeds: unknown[]; allowed_mentions: unknown }>;
    expect(sent.map((p) => p.embeds.length)).toEqual([10, 10, 3]);
    expect(sent[0]!.allowed_mentions).toEqual({ parse: [] });
  });

  it('ntfy sends topic, priority, tags, click and the bearer token', async () => {
    await notifier('ntfy').send(message([sampleEvent()]));
    expect(ntfy.accepted.at(-1)).toMatchObject({ topic: 'herald-ops', priority: 4, tags: ['whale'], click: 'https://hub.docker.com/_/nginx', title: 'update: docker.io/library/nginx:1.27' });
    expect(ntfy.requests.at(-1)!.headers.authorization).toBe(`Bearer ${NTFY_TOKEN}`);
  });

  it('teams sends a message with one Adaptive Card attachment', async () => {
    await notifier('teams').send(message([sampleEvent()]));
    const body = JSON.parse(teams.requests.at(-1)!.body.toString()) as { type: string; attachments: Array<{ contentType: string; content: { type: string; version: string; actions: unknown } }> };
    expect(body.type).toBe('message');
    expect(body.attachments[0]).toMatchObject({ contentType: 'application/vnd.microsoft.card.adaptive', content: { type: 'AdaptiveCard', version: '1.4' } });
    expect(body.attachments[0]!.content.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Open', url: 'https://hub.docker.com/_/nginx' }]);
  });
});

describe('the receivers refuse what the services refuse', () => {
  const post = async (url: string, payload: unknown, headers: Record<string, string> = {}) => {
    const res = await request(url, { method: 'POST', body: typeof payload === 'string' ? payload : JSON.stringify(payload), headers: { 'content-type': 'application/json', ...headers } });
    const text = await res.body.text();
    return { status: res.statusCode, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
  };

  it('discord', async () => {
    expect((await post(discord.webhookUrl, { embeds: [{ description: 'd'.repeat(4096) }] })).status).toBe(204);
    const long = await post(discord.webhookUrl, { embeds: [{ description: 'd'.repeat(4097) }] });
    expect(long).toEqual({ status: 400, body: { message: 'Invalid Form Body', code: 50035, errors: { embeds: { 0: { description: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 4096 or fewer in length.' }] } } } } } });
    expect((await post(discord.webhookUrl, { embeds: [{ title: 't'.repeat(257) }] })).status).toBe(400);
    expect((await post(discord.webhookUrl, { embeds: Array.from({ length: 11 }, () => ({ title: 't' })) })).status).toBe(400);
    expect((await post(discord.webhookUrl, { embeds: [1, 2].map(() => ({ description: 'd'.repeat(3001) })) })).body).toMatchObject({ code: 50035 });
    expect((await post(discord.webhookUrl, { content: '' })).body).toEqual({ message: 'Cannot send an empty message', code: 50006 });
    expect((await post(`${discord.url}/api/webhooks/1/wrong`, { content: 'x' })).body).toEqual({ message: 'Unknown Webhook', code: 10015 });
  });

  it('telegram', async () => {
    const send = (text: string, extra: Record<string, unknown> = {}) => post(`${telegram.apiUrl}/bot${BOT_TOKEN}/sendMessage`, { chat_id: CHAT, text, parse_mode: 'HTML', ...extra });
    expect((await send(`<b>t</b>${'&amp;'.repeat(4095)}`)).body).toMatchObject({ ok: true });
    expect((await send(`<b>t</b>${'&amp;'.repeat(4096)}`)).body).toEqual({ ok: false, error_code: 400, description: 'Bad Request: message is too long' });
    expect((await send('a < b')).body).toMatchObject({ ok: false, error_code: 400, description: expect.stringMatching(/^Bad Request: can't parse entities/) });
    expect((await send('<div>x</div>')).body).toMatchObject({ description: 'Bad Request: can\'t parse entities: Unsupported start tag "div" at byte offset 0' });
    expect((await send('<b>x')).status).toBe(400);
    expect((await send('fish &chips')).status).toBe(400);
    expect((await send('x', { chat_id: 42 })).body).toMatchObject({ description: 'Bad Request: chat not found' });
    expect((await post(`${telegram.apiUrl}/bot123:wrong/sendMessage`, { chat_id: CHAT, text: 'x' })).body).toEqual({ ok: false, error_code: 401, description: 'Unauthorized' });
  });

  it('teams', async () => {
    const card = (content: Record<string, unknown>, contentType = 'application/vnd.microsoft.card.adaptive') => ({ type: 'message', attachments: [{ contentType, contentUrl: null, content }] });
    const ok = { type: 'AdaptiveCard', version: '1.4', body: [{ type: 'TextBlock', text: 'hi' }] };
    expect((await post(teams.webhookUrl, card(ok))).status).toBe(202);
    expect((await post(teams.webhookUrl, card({ ...ok, version: '2.0' }))).body).toMatchObject({ error: { code: 'TriggerInputSchemaMismatch' } });
    expect((await post(teams.webhookUrl, card(ok, 'application/json'))).status).toBe(400);
    expect((await post(teams.webhookUrl, card({ ...ok, body: [{ type: 'TextBlock' }] }))).status).toBe(400);
    expect((await post(teams.webhookUrl, { text: 'connector style' })).status).toBe(400);
    expect((await post(teams.webhookUrl, card({ ...ok, body: [{ type: 'TextBlock', text: 'x'.repeat(29_000) }] }))).body).toMatchObject({ error: { code: 'MessageSizeLimitExceeded' } });
  });

  it('ntfy', async () => {
    const auth = { authorization: `Bearer ${NTFY_TOKEN}` };
    expect((await post(ntfy.url, { topic: 'herald-ops', message: 'm'.repeat(4096) }, auth)).status).toBe(200);
    expect((await post(ntfy.url, { topic: 'herald-ops', message: 'm'.repeat(4097) }, auth)).body).toMatchObject({ code: 41301, http: 413 });
    expect((await post(ntfy.url, { topic: 'herald-ops', priority: 6 }, auth)).body).toMatchObject({ code: 40007, http: 400, error: 'invalid priority' });
    expect((await post(ntfy.url, { topic: 'no/slash' }, auth)).status).toBe(400);
    expect((await post(ntfy.url, { topic: 'herald-ops' })).body).toMatchObject({ code: 40101, http: 401 });
    const basic = `Basic ${Buffer.from(`:${NTFY_TOKEN}`).toString('base64')}`;
    expect((await post(ntfy.url, { topic: 'herald-ops', message: 'x' }, { authorization: basic })).status).toBe(200);
  });
});

describe('config checks', () => {
  const parse = (entry: Record<string, unknown>) => notifierSchema.safeParse({ name: 'x', ...entry });
  it('refuses bad keys at load', () => {
    expect(parse({ type: 'ntfy', topic: 'ops', priority: 6 }).success).toBe(false);
    expect(parse({ type: 'ntfy', topic: 'ops', priority: 5 }).success).toBe(true);
    expect(parse({ type: 'ntfy', topic: 'no/slash' }).success).toBe(false);
    expect(parse({ type: 'telegram', botToken: 't', chatId: 1.5 }).success).toBe(false);
    expect(parse({ type: 'discord', webhookUrl: 'ftp://x/' }).success).toBe(false);
    const checks = (entry: Record<string, unknown>) => {
      const config = notifierSchema.parse({ name: 'x', ...entry });
      return [...notifierCatalog.entryProblems(config), ...notifierCatalog.validate(config).map((p) => `${p.key}: ${p.message}`)];
    };
    expect(checks({ type: 'telegram', botToken: 't', chatId: 'my group' })).toEqual([expect.stringMatching(/^chatId: must be a chat id/)]);
    expect(checks({ type: 'telegram', botToken: 't', chatId: '@herald_updates' })).toEqual([]);
    expect(checks({ type: 'telegram', chatId: -100 })).toEqual(['a telegram notifier needs botToken or botTokenFile']);
    expect(checks({ type: 'ntfy', topic: 'ops', token: 't', username: 'u', password: 'p' })).toEqual(['an ntfy notifier takes token or username/password, not both']);
    expect(checks({ type: 'ntfy', topic: 'ops', username: 'u' })).toEqual(['an ntfy notifier with username needs password or passwordFile']);
    expect(checks({ type: 'discord', webhookUrl: 'https://d/x', templateBody: '{{ x | nope }}' })).toEqual([expect.stringMatching(/^templateBody: invalid template/)]);
  });
});
