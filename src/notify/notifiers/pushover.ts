/**
 * Pushover (https://pushover.net/api): `POST {apiUrl}/1/messages.json`, a JSON body with `token`
 * (the application's API token), `user` (the user or group key), `title`, `message`, and `url` /
 * `url_title` for the hub link of a single event. Pushover's limits are kept: title ≤ 250,
 * message ≤ 1024, url ≤ 512, url_title ≤ 100 characters; a larger batch becomes several messages.
 *
 * Answers: `{"status":1}` is delivered. `{"status":0,"errors":[…]}` with a 4xx is permanent (a
 * wrong key, an invalid field); 429 (the application's monthly quota, retried when its
 * X-Limit-App-Reset says) and 5xx are retried, as Pushover asks. The error line carries Pushover's `errors`, never the keys.
 */
import { z } from 'zod';
import { oneLine } from '../../util/text.js';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { statusError, type HttpAnswer, type HttpPost, type ServiceVerdict } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, safeMessage, type Notifier } from '../notifier.js';
import { DEFAULT_TITLE, compileTemplate, eventLink, type CompiledTemplate } from '../template.js';
import { DEFAULT_PUSH_BODY, pushText, textTemplateProblems, type PushText } from '../facts.js';
import { SplitSender, joinUrl, jsonBody, packRendered, partTitle, truncate } from '../limits.js';

export const pushoverSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('pushover'),
    userKey: z.string().min(1).optional(),
    userKeyFile: z.string().optional(),
    appToken: z.string().min(1).optional(),
    appTokenFile: z.string().optional(),
    // 2 (emergency) needs retry/expire and acknowledgement handling: not offered.
    priority: z.number().int().min(-2).max(1).default(0),
    sound: z.string().min(1).optional(),
    apiUrl: httpUrl.default('https://api.pushover.net'),
    timeout: duration.prefault('10s'),
  })
  .strict();

export const PUSHOVER_LIMITS = { title: 250, message: 1024, url: 512, urlTitle: 100 } as const;

export interface PushoverPayload {
  token: string;
  user: string;
  title: string;
  message: string;
  priority: number;
  timestamp: number;
  url?: string;
  url_title?: string;
  sound?: string;
}

export const pushoverModule = defineNotifier({
  schema: pushoverSchema,
  secretKeys: ['userKey', 'appToken'],

  entryProblems(config) {
    const problems: string[] = [];
    if (config.userKey === undefined && config.userKeyFile === undefined) problems.push('a pushover notifier needs userKey or userKeyFile');
    if (config.appToken === undefined && config.appTokenFile === undefined) problems.push('a pushover notifier needs appToken or appTokenFile');
    return problems;
  },

  validate: textTemplateProblems,

  create(config): Notifier {
    const label = `pushover ${config.name}`;
    const url = joinUrl(config.apiUrl, '1/messages.json');
    const templates = {
      title: compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE),
      body: compileTemplate('templateBody', config.templateBody ?? DEFAULT_PUSH_BODY),
    };
    const secrets = [config.userKey, config.appToken];
    const parts = new SplitSender();
    // A 2xx that does not say status 1 is not a delivery (a proxy's page, a changed API).
    const check = (req: HttpPost, answer: HttpAnswer): NotifyError | undefined => {
      const json = jsonBody(answer.body);
      const reason = pushoverReason(json, answer.body);
      const error = statusError(req, answer, reason, quotaVerdict(answer));
      if (error !== undefined || json?.status === 1) return error;
      return new NotifyError(safeMessage(`${label}: answered ${answer.status} without status 1: ${reason}`, secrets), { permanent: true });
    };
    return {
      name: config.name,
      type: 'pushover',
      async send(msg) {
        const { userKey, appToken } = config;
        if (userKey === undefined || appToken === undefined) throw new NotifyError(`${label}: no userKey or appToken configured`, { permanent: true });
        const sound = config.sound !== undefined ? { sound: config.sound } : {};
        await parts.post(msg.deliveryId, pushoverMessages(msg.events, templates), { label, url, timeoutMs: config.timeout, secrets, check }, (content): PushoverPayload => ({
          token: appToken, user: userKey, priority: config.priority, ...content, ...sound,
        }));
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

type PushoverContent = Pick<PushoverPayload, 'title' | 'message' | 'timestamp' | 'url' | 'url_title'>;

/** The message fields for a delivery: one set, or several when the batch exceeds PUSHOVER_LIMITS. */
export function pushoverMessages(events: readonly HeraldEvent[], templates: { title: CompiledTemplate; body: CompiledTemplate }): PushoverContent[] {
  const fits = (p: PushText) => p.title.length <= PUSHOVER_LIMITS.title - 8 && p.message.length <= PUSHOVER_LIMITS.message;
  const parts = packRendered(events, (group) => pushText(templates, group), fits);
  return parts.map((part, i) => {
    const first = part.group[0]!;
    const content: PushoverContent = {
      title: partTitle(part.title, i, parts.length, PUSHOVER_LIMITS.title),
      message: truncate(part.message, PUSHOVER_LIMITS.message),
      timestamp: Math.floor(Date.parse(first.detectedAt) / 1000) || Math.floor(Date.now() / 1000),
    };
    const link = part.group.length === 1 ? eventLink(first) : null;
    if (link !== null && link.length <= PUSHOVER_LIMITS.url) {
      content.url = link;
      content.url_title = oneLine(first.image, PUSHOVER_LIMITS.urlTitle);
    }
    return content;
  });
}

/**
 * A 429 means the application's monthly quota is used up; X-Limit-App-Reset (epoch seconds) says
 * when it resets, which is when a retry can succeed. Pushover sends no Retry-After.
 */
function quotaVerdict(answer: HttpAnswer): ServiceVerdict {
  const reset = Number(answer.headers['x-limit-app-reset']);
  if (answer.status !== 429 || !Number.isFinite(reset) || reset <= 0) return {};
  return { retryable: true, retryAfterMs: Math.max(0, reset * 1000 - Date.now()) };
}

/** Pushover's own words: its `errors` list, else the start of the body. */
function pushoverReason(json: Record<string, unknown> | undefined, body: string): string {
  const errors = json?.errors;
  if (Array.isArray(errors) && errors.length > 0) return oneLine(errors.map(String).join('; '), 200);
  return oneLine(body.slice(0, 100), 100);
}
