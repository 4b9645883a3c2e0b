// ntfy, Discord, Teams and Telegram through the real outbox and a real store: each service's own
// rate-limit answer is waited out within one `check`-style drain and the message delivered exactly
// once; a split batch that is rate-limited midway is retried as one delivery without posting a part
// twice; a permanent error is one line with the service's reason and no secret, in the store and
// in every log line (Telegram's token sits in the URL path).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/index.js';
import { createLogger } from '../../src/util/log.js';
import { closeHttpAgent } from '../../src/notify/http.js';
import { Outbox } from '../../src/notify/outbox.js';
import type { Notifier } from '../../src/notify/notifier.js';
import { createNotifier, notifierCatalog, notifierSchema } from '../../src/notify/notifiers/index.js';
import { sampleEvent } from '../../src/notify/sample.js';
import type { HeraldEvent } from '../../src/model/event.js';
import { startDiscordSink, type DiscordSink } from '../fixtures/discord-sink.js';
import { startNtfySink, type NtfySink } from '../fixtures/ntfy-sink.js';
import { startTeamsSink, type TeamsSink } from '../fixtures/teams-sink.js';
import { startTelegramSink, type TelegramSink } from '../fixtures/telegram-sink.js';
import { freePort } from '../../fixtures/ports.js';

const BOT_TOKEN = '7012345678:AAF-s3cr3t_bot_token_value';
const CHAT = -1001234567890;
const NTFY_TOKEN = 'tk_ntfysecret0123456789abcdef';
const SECRETS = [BOT_TOKEN, 'AAF-s3cr3t_bot_token_value', NTFY_TOKEN, 'S3cr3t-discord-token', 'S1GNATURE-teams-secret'];

let ntfy: NtfySink;
let discord: DiscordSink;
let teams: TeamsSink;
let telegram: TelegramSink;
beforeAll(async () => {
  [ntfy, discord, teams, telegram] = await Promise.all([startNtfySink({ token: NTFY_TOKEN }), startDiscordSink(), startTeamsSink(), startTelegramSink(BOT_TOKEN, [CHAT])]);
});
afterAll(async () => {
  await Promise.all([ntfy, discord, teams, telegram].map((s) => s.close()));
  await closeHttpAgent();
});

let dir: string;
let store: Store;
let logText: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'herald-chat-retry-'));
  store = Store.open(join(dir, 'herald.db'));
  logText = '';
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const logger = () =>
  createLogger({
    level: 'debug', pretty: false, secretKeys: notifierCatalog.redactKeys,
    destination: new Writable({ write: (chunk, _enc, cb) => void ((logText += String(chunk)), cb()) }),
  });

function make(config: Record<string, unknown>): Notifier {
  return createNotifier(notifierSchema.parse({ name: 'chat', ...config }), { logger: logger() });
}

/** One run's write, as watch/run.ts commits it: the events and one delivery of all of them. */
function commit(events: HeraldEvent[], id = 'd1'): void {
  store.commitRun({ states: [], events, deliveries: [{ id, notifier: 'chat', eventIds: events.map((e) => e.id) }] }, Date.now());
}
const deliveryOf = (events: HeraldEvent[]) => store.deliveries.forEvent(events[0]!.id)[0]!;

/** `herald check`'s pass: one drain that waits out a Retry-After of up to 10 s. */
async function checkDrain(notifier: Notifier) {
  const outbox = new Outbox({ store, notifiers: [notifier], retry: { attempts: 5, minDelay: 60_000, maxDelay: 600_000 }, logger: logger() });
  try {
    return await outbox.drain({ inlineRetryAfterMs: 10_000 });
  } finally {
    await outbox.close();
  }
}

const manyEvents = (n: number) => Array.from({ length: n }, (_, i) => ({ ...sampleEvent(), image: `docker.io/acme/app-${String(i).padStart(3, '0')}:1` }));

describe('a rate-limit answer is waited out within the same check and delivered exactly once', () => {
  it('discord: 429 with retry_after (seconds, a float) in the body', async () => {
    const before = discord.accepted.length;
    discord.rateLimitOnce(0.25);
    const events = [sampleEvent()];
    commit(events);
    const started = Date.now();
    expect(await checkDrain(make({ type: 'discord', webhookUrl: discord.webhookUrl }))).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(discord.accepted.length - before).toBe(1);
    expect(deliveryOf(events)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(logText).toContain('retrying in 250 ms');
  });

  it('telegram: 429 with parameters.retry_after', async () => {
    const before = telegram.accepted.length;
    telegram.rateLimitOnce(1);
    const events = [sampleEvent()];
    commit(events);
    expect(await checkDrain(make({ type: 'telegram', botToken: BOT_TOKEN, chatId: CHAT, apiUrl: telegram.apiUrl }))).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(telegram.accepted.length - before).toBe(1);
    expect(deliveryOf(events)).toMatchObject({ status: 'sent', attempts: 2 });
    expect(logText).toContain('Too Many Requests: retry after 1');
    for (const secret of SECRETS) expect(logText).not.toContain(secret);
  });

  it('teams: 429 with Retry-After', async () => {
    const before = teams.cards.length;
    teams.rateLimitOnce(1);
    const events = [sampleEvent()];
    commit(events);
    expect(await checkDrain(make({ type: 'teams', webhookUrl: teams.webhookUrl }))).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(teams.cards.length - before).toBe(1);
    expect(deliveryOf(events)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('ntfy: 429 without Retry-After waits ntfy\'s replenish interval (5 s)', async () => {
    const before = ntfy.accepted.length;
    ntfy.rateLimitOnce();
    const events = [sampleEvent()];
    commit(events);
    const started = Date.now();
    expect(await checkDrain(make({ type: 'ntfy', url: ntfy.url, topic: 'herald-ops', token: NTFY_TOKEN }))).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
    expect(ntfy.accepted.length - before).toBe(1);
    expect(logText).toContain('limit reached: too many requests');
  });
});

describe('a split batch is one delivery', () => {
  it('discord: rate-limited on the second of three messages, each message is posted exactly once, in order', async () => {
    const before = discord.accepted.length;
    discord.rateLimitOnce(0.1, 1);
    const events = manyEvents(23);
    commit(events);
    expect(await checkDrain(make({ type: 'discord', batch: true, webhookUrl: discord.webhookUrl }))).toEqual({ sent: 1, retried: 0, failed: 0 });
    const sent = discord.accepted.slice(before) as Array<{ content: string; embeds: Array<{ title: string }> }>;
    expect(sent.map((p) => p.content)).toEqual(['23 image changes (1/3)', '23 image changes (2/3)', '23 image changes (3/3)']);
    // Every event in exactly one embed of one message (the store gives the delivery's events in its own order).
    expect(sent.flatMap((p) => p.embeds.map((e) => e.title)).sort()).toEqual(events.map((e) => `update: ${e.image}`).sort());
    expect(deliveryOf(events)).toMatchObject({ status: 'sent', attempts: 2 });
  });

  it('telegram: a failure midway, retried by a later pass of the same notifier, sends only the rest', async () => {
    const before = telegram.accepted.length;
    const events = Array.from({ length: 60 }, (_, i) => ({ ...sampleEvent(), image: `docker.io/acme/app-${i}:1`, error: 'e'.repeat(200) }));
    commit(events);
    const notifier = make({ type: 'telegram', batch: true, botToken: BOT_TOKEN, chatId: CHAT, apiUrl: telegram.apiUrl });
    telegram.rateLimitOnce(60, 1); // too long to wait within check: the delivery stays pending
    expect(await checkDrain(notifier)).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(telegram.accepted.length - before).toBe(1);
    store.deliveries.markRetry(deliveryOf(events).id, Date.now() - 1, 'test: due now');
    expect(await checkDrain(notifier)).toEqual({ sent: 1, retried: 0, failed: 0 });
    const texts = telegram.accepted.slice(before).map((m) => m.text.split('\n', 1)[0]);
    const total = texts.length;
    expect(total).toBeGreaterThan(2);
    expect(texts).toEqual(Array.from({ length: total }, (_, i) => `60 image changes (${i + 1}/${total})`));
  });
});

describe('a permanent error is one line with the service\'s reason and no secret', () => {
  async function failOnce(config: Record<string, unknown>): Promise<string> {
    const events = [sampleEvent()];
    commit(events);
    expect(await checkDrain(make(config))).toEqual({ sent: 0, retried: 0, failed: 1 });
    const { lastError, status } = deliveryOf(events);
    expect(status).toBe('failed');
    expect(lastError).not.toContain('\n');
    for (const secret of SECRETS) {
      expect(lastError).not.toContain(secret);
      expect(logText).not.toContain(secret);
    }
    expect(logText).toContain('notification failed permanently');
    return lastError!;
  }

  it('telegram: Bad Request: chat not found, the token masked', async () => {
    expect(await failOnce({ type: 'telegram', botToken: BOT_TOKEN, chatId: 42, apiUrl: telegram.apiUrl })).toBe(
      `telegram chat: POST ${telegram.apiUrl}/… answered 400: Bad Request: chat not found`,
    );
  });

  it('telegram: a wrong token is Unauthorized, and neither token is shown', async () => {
    const wrong = '7012345678:AAF-wrong_bot_token_value';
    const line = await failOnce({ type: 'telegram', botToken: wrong, chatId: CHAT, apiUrl: telegram.apiUrl });
    expect(line).toMatch(/answered 401: Unauthorized$/);
    expect(line + logText).not.toContain('AAF-wrong_bot_token_value');
  });

  it('telegram: an unreachable API is retried, its error line without the token', async () => {
    const events = [sampleEvent()];
    commit(events);
    const apiUrl = `http://127.0.0.1:${await freePort()}`;
    expect(await checkDrain(make({ type: 'telegram', botToken: BOT_TOKEN, chatId: CHAT, apiUrl }))).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(deliveryOf(events).lastError).toMatch(/^telegram chat: POST http:\/\/127\.0\.0\.1:\d+\/…: .*ECONNREFUSED/);
    for (const secret of SECRETS) expect(deliveryOf(events).lastError + logText).not.toContain(secret);
  });

  it('discord: Unknown Webhook', async () => {
    const url = discord.webhookUrl.replace('S3cr3t-discord-token', 'S3cr3t-discord-token-revoked');
    expect(await failOnce({ type: 'discord', webhookUrl: url })).toBe(`discord chat: POST ${discord.url}/… answered 404: Unknown Webhook`);
  });

  it('teams: the workflow refuses the signature', async () => {
    const url = teams.webhookUrl.replace('sig=S1GNATURE', 'sig=X-S1GNATURE');
    expect(await failOnce({ type: 'teams', webhookUrl: url })).toMatch(/^teams chat: POST http:\/\/127\.0\.0\.1:\d+\/… answered 401: DirectApiAuthorizationRequired: /);
  });

  it('ntfy: unauthorized', async () => {
    expect(await failOnce({ type: 'ntfy', url: ntfy.url, topic: 'herald-ops', token: 'tk_not_the_token_0000' })).toBe(`ntfy chat: POST ${ntfy.url} answered 401: unauthorized`);
    expect(logText).not.toContain('tk_not_the_token_0000');
  });
});
