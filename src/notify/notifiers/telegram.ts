/**
 * Telegram Bot API: `POST {apiUrl}/bot<token>/sendMessage` with `chat_id`, `text` and
 * `parse_mode: HTML`. Text is at most 4096 characters after entity parsing, so a batch is split
 * into several messages at event boundaries. The bot token sits in the URL path: error messages
 * show the API's origin only and never the token.
 */
import { z } from 'zod';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { isPlainObject } from '../../util/text.js';
import { statusError, type HttpAnswer, type ServiceVerdict } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type ConfigProblem, type Notifier } from '../notifier.js';
import { DEFAULT_TITLE, compileTemplate, escapeMrkdwn as escapeHtml, eventLink, templateProblems } from '../template.js';
import { customBody, eventFacts, messageHeading } from '../facts.js';
import { SplitSender, htmlVisibleLength, jsonBody, pack, partTitle, secondsToMs, splitText, stringField, truncate } from '../limits.js';

export const telegramSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('telegram'),
    botToken: z.string().min(1).optional(),
    botTokenFile: z.string().optional(),
    chatId: z.union([z.string().min(1), z.number().int()]),
    messageThreadId: z.number().int().positive().optional(),
    apiUrl: httpUrl.default('https://api.telegram.org'),
    timeout: duration.prefault('10s'),
  })
  .strict();

/** Telegram's limit on a message's text after entity parsing. */
export const TELEGRAM_TEXT_MAX = 4096;
/** Room kept for the " (12/34)" a split batch adds to its title. */
const PART_SUFFIX = ' (00/00)';

export const telegramModule = defineNotifier({
  schema: telegramSchema,
  secretKeys: ['botToken'],

  entryProblems(config) {
    return config.botToken === undefined && config.botTokenFile === undefined ? ['a telegram notifier needs botToken or botTokenFile'] : [];
  },

  validate(config): ConfigProblem[] {
    const problems = templateProblems([
      ['templateTitle', config.templateTitle, 'text'],
      // HTML: what the template writes passes as is (tags), every {{ value }} is escaped.
      ['templateBody', config.templateBody, 'mrkdwn'],
    ]);
    const chat = config.chatId;
    if (typeof chat === 'string' && !/^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,31})$/.test(chat)) {
      problems.push({ key: 'chatId', message: 'must be a chat id (a number such as -1001234567890) or a channel username such as @herald_updates' });
    }
    return problems;
  },

  create(config): Notifier {
    const label = `telegram ${config.name}`;
    const token = config.botToken;
    const title = compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE);
    const body = config.templateBody === undefined ? undefined : compileTemplate('templateBody', config.templateBody, 'mrkdwn');
    const parts = new SplitSender();

    return {
      name: config.name,
      type: 'telegram',
      async send(msg) {
        if (token === undefined) throw new NotifyError(`${label}: no botToken configured`, { permanent: true });
        const url = new URL(`${config.apiUrl.replace(/\/+$/, '')}/bot${token}/sendMessage`);
        const texts = telegramTexts(msg.events, messageHeading(title, msg.events, 256), customBody(body, msg.events));
        const service = { label, url, timeoutMs: config.timeout, secrets: [token], check: telegramError };
        await parts.post(msg.deliveryId, texts, service, (text) => ({
          chat_id: config.chatId,
          ...(config.messageThreadId !== undefined ? { message_thread_id: config.messageThreadId } : {}),
          text,
          parse_mode: 'HTML',
          link_preview_options: { is_disabled: true },
        }));
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

/**
 * The messages for these events: a bold title, then one block per event (or the rendered
 * templateBody), packed into as few texts as fit in 4096 characters after entity parsing. A split
 * batch numbers its titles "(1/3)".
 */
export function telegramTexts(events: readonly HeraldEvent[], heading: string, custom?: string): string[] {
  const room = TELEGRAM_TEXT_MAX - htmlVisibleLength(`<b>${escapeHtml(heading)}${PART_SUFFIX}</b>\n\n`);
  const blocks = custom !== undefined ? splitText(custom === '' ? '…' : custom, room, htmlVisibleLength) : events.map(eventHtml);
  const groups = pack(blocks, (group) => htmlVisibleLength(group.join('\n\n')) <= room);
  return groups.map((group, i) => `<b>${escapeHtml(partTitle(heading, i, groups.length))}</b>\n\n${group.join('\n\n')}`);
}

/** One event: status and image (linked), then its facts, each value escaped and cut to stay short. */
export function eventHtml(event: HeraldEvent): string {
  const link = eventLink(event);
  const image = escapeHtml(event.image);
  const lines = [`<b>${escapeHtml(event.status)}</b>: ${link === null ? image : `<a href="${escapeAttr(link)}">${image}</a>`}`];
  for (const fact of eventFacts(event)) {
    const value = escapeHtml(truncate(fact.value, 1_000));
    lines.push(`${fact.label}: ${fact.label === 'digest' || fact.label === 'tag' ? `<code>${value}</code>` : value}`);
  }
  return lines.join('\n');
}

function escapeAttr(value: string): string {
  return escapeHtml(value).replace(/"/g, '&quot;');
}

/**
 * Telegram answers `{"ok": false, "error_code", "description", "parameters"}`: 429 with
 * `parameters.retry_after` (seconds), 400 "Bad Request: …", 401/404 for a wrong token, 403 when the
 * bot was blocked or removed. A retry_after makes the answer retryable whatever its status.
 */
function telegramError(req: Parameters<typeof statusError>[0], answer: HttpAnswer): NotifyError | undefined {
  const json = jsonBody(answer.body);
  const ok = answer.status >= 200 && answer.status < 300;
  if (ok && json?.ok !== false) return undefined;
  const parameters = isPlainObject(json?.parameters) ? json.parameters : undefined;
  const retryAfterMs = secondsToMs(parameters?.retry_after);
  const verdict: ServiceVerdict = retryAfterMs !== undefined ? { retryable: true, retryAfterMs } : {};
  let detail = stringField(json, 'description') ?? answer.body.slice(0, 100);
  const migrated = parameters?.migrate_to_chat_id;
  if (typeof migrated === 'number') detail += ` (the group is now chat ${migrated}: set chatId to it)`;
  // ok: false on a 2xx answer is not documented; treated as what its error_code says.
  const status = ok ? (typeof json?.error_code === 'number' ? json.error_code : 502) : answer.status;
  return statusError(req, { ...answer, status }, detail, verdict);
}
