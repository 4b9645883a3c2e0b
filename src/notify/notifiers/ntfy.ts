/**
 * ntfy (https://ntfy.sh or a server of one's own): a JSON publish to the server root with `topic`,
 * `title`, `message`, `priority`, `tags` and `click` (the image's link). ntfy turns a message over
 * 4096 bytes into an attachment (or refuses it where attachments are off), so a batch is split into
 * messages of at most 4096 bytes. Auth is a bearer token or basic username/password.
 */
import { z } from 'zod';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { statusError, type HttpAnswer } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type Notifier } from '../notifier.js';
import { DEFAULT_TITLE, compileTemplate, eventLink } from '../template.js';
import { customBody, eventFacts, eventHeadline, messageHeading, textTemplateProblems } from '../facts.js';
import { SplitSender, jsonBody, pack, partTitle, splitText, stringField, truncate, utf8Bytes } from '../limits.js';

export const ntfySchema = z
  .object({
    ...notifierCommon,
    type: z.literal('ntfy'),
    url: httpUrl.default('https://ntfy.sh'),
    topic: z.string().regex(/^[-_A-Za-z0-9]{1,64}$/, 'a topic is 1 to 64 letters, digits, - or _'),
    token: z.string().min(1).optional(),
    tokenFile: z.string().optional(),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    priority: z.number().int().min(1).max(5).optional(),
    tags: z.array(z.string().min(1)).default([]),
    timeout: duration.prefault('10s'),
  })
  .strict();

/** ntfy's default message-size-limit, in bytes. */
export const NTFY_MESSAGE_MAX = 4096;
/**
 * ntfy answers 429 without Retry-After; its default request limit gives a visitor one more request
 * every 5 s (visitor-request-limit-replenish), so that is the wait asked of the outbox.
 */
export const NTFY_RATE_LIMIT_WAIT_MS = 5_000;

export interface NtfyPayload {
  topic: string;
  title: string;
  message: string;
  priority?: number;
  tags?: string[];
  click?: string;
}

export const ntfyModule = defineNotifier({
  schema: ntfySchema,
  secretKeys: ['token', 'password'],

  entryProblems(config) {
    const problems: string[] = [];
    const password = config.password !== undefined || config.passwordFile !== undefined;
    const token = config.token !== undefined || config.tokenFile !== undefined;
    if (token && (password || config.username !== undefined)) problems.push('an ntfy notifier takes token or username/password, not both');
    // A password alone is basic auth with an empty username: ntfy's way to pass a token as password.
    if (config.username !== undefined && !password) problems.push('an ntfy notifier with username needs password or passwordFile');
    return problems;
  },

  validate: textTemplateProblems,

  create(config): Notifier {
    const label = `ntfy ${config.name}`;
    const url = new URL(config.url);
    const title = compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE);
    const body = config.templateBody === undefined ? undefined : compileTemplate('templateBody', config.templateBody);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (config.token !== undefined) headers.Authorization = `Bearer ${config.token}`;
    else if (config.username !== undefined) headers.Authorization = `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}`;
    const secrets = [config.token, config.password, headers.Authorization];
    const parts = new SplitSender();

    return {
      name: config.name,
      type: 'ntfy',
      async send(msg) {
        const heading = messageHeading(title, msg.events, 250);
        const link = msg.events.length === 1 ? eventLink(msg.events[0]!) : null;
        const messages = ntfyMessages(msg.events, customBody(body, msg.events));
        const service = { label, url, headers, timeoutMs: config.timeout, secrets, check: ntfyError };
        await parts.post(msg.deliveryId, messages, service, (message, i): NtfyPayload => ({
          topic: config.topic,
          title: partTitle(heading, i, messages.length),
          message,
          ...(config.priority !== undefined ? { priority: config.priority } : {}),
          ...(config.tags.length > 0 ? { tags: config.tags } : {}),
          ...(link !== null ? { click: link } : {}),
        }));
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

/** The message texts: one paragraph per event (or the rendered templateBody), ≤ 4096 bytes each. */
export function ntfyMessages(events: readonly HeraldEvent[], custom?: string): string[] {
  const blocks = custom !== undefined ? splitText(custom === '' ? '…' : custom, NTFY_MESSAGE_MAX, utf8Bytes) : events.map(eventText);
  return pack(blocks, (group) => utf8Bytes(group.join('\n\n')) <= NTFY_MESSAGE_MAX).map((group) => group.join('\n\n'));
}

export function eventText(event: HeraldEvent): string {
  const link = eventLink(event);
  const lines = [eventHeadline(event), ...eventFacts(event).map((f) => `${f.label}: ${f.value}`)];
  if (link !== null) lines.push(link);
  // A single event is far below the limit unless its facts are huge; cut it to fit on its own.
  return truncate(lines.join('\n'), NTFY_MESSAGE_MAX, utf8Bytes);
}

/** ntfy answers errors as `{"code": 42901, "http": 429, "error": "limit reached: …", "link"}`. */
function ntfyError(req: Parameters<typeof statusError>[0], answer: HttpAnswer): NotifyError | undefined {
  if (answer.status >= 200 && answer.status < 300) return undefined;
  const detail = stringField(jsonBody(answer.body), 'error') ?? answer.body.slice(0, 100);
  const waitGiven = answer.headers['retry-after'] !== undefined;
  return statusError(req, answer, detail, answer.status === 429 && !waitGiven ? { retryAfterMs: NTFY_RATE_LIMIT_WAIT_MS } : {});
}
