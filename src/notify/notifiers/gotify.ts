/**
 * Gotify (https://gotify.net): `POST {url}/message` with the application token in `X-Gotify-Key`
 * and a JSON body `{title, message, priority, extras}`. The click URL (the hub link of a single
 * event) goes in `extras["client::notification"].click.url`.
 *
 * Gotify documents no size limit; herald keeps a message to 8,000 characters and a title to 250,
 * so that it stays readable on a phone, and splits a larger batch into several messages.
 * Answers: 2xx delivered; 401/403 (a wrong or revoked token) and other 4xx permanent; 408, 429
 * and 5xx retried. The error line carries Gotify's own `errorDescription`.
 */
import { z } from 'zod';
import { oneLine } from '../../util/text.js';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { statusError } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type Notifier } from '../notifier.js';
import { DEFAULT_TITLE, compileTemplate, eventLink, type CompiledTemplate } from '../template.js';
import { DEFAULT_PUSH_BODY, pushText, textTemplateProblems, type PushText } from '../facts.js';
import { SplitSender, joinUrl, jsonBody, packRendered, partTitle, stringField, truncate } from '../limits.js';

export const gotifySchema = z
  .object({
    ...notifierCommon,
    type: z.literal('gotify'),
    url: httpUrl,
    token: z.string().min(1).optional(),
    tokenFile: z.string().optional(),
    priority: z.number().int().min(0).max(10).default(5),
    timeout: duration.prefault('10s'),
  })
  .strict();

/** herald's own limits (Gotify documents none). */
export const GOTIFY_LIMITS = { title: 250, message: 8_000 } as const;

export interface GotifyPayload {
  title: string;
  message: string;
  priority: number;
  extras: Record<string, unknown>;
}

export const gotifyModule = defineNotifier({
  schema: gotifySchema,
  secretKeys: ['token'],

  entryProblems: (config) => (config.token === undefined && config.tokenFile === undefined ? ['a gotify notifier needs token or tokenFile'] : []),

  validate: textTemplateProblems,

  create(config): Notifier {
    const label = `gotify ${config.name}`;
    const url = joinUrl(config.url, 'message');
    const title = compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE);
    const body = compileTemplate('templateBody', config.templateBody ?? DEFAULT_PUSH_BODY);
    const parts = new SplitSender();
    return {
      name: config.name,
      type: 'gotify',
      async send(msg) {
        if (config.token === undefined) throw new NotifyError(`${label}: no token configured`, { permanent: true });
        const headers = { 'Content-Type': 'application/json', 'X-Gotify-Key': config.token };
        await parts.post(msg.deliveryId, gotifyPayloads(msg.events, { title, body }, config.priority), {
          label, url, headers, timeoutMs: config.timeout, secrets: [config.token],
          check: (req, answer) => statusError(req, answer, gotifyReason(answer.body)),
        });
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

/** The messages for a delivery: one, or several when the batch exceeds GOTIFY_LIMITS. */
export function gotifyPayloads(events: readonly HeraldEvent[], templates: { title: CompiledTemplate; body: CompiledTemplate }, priority: number): GotifyPayload[] {
  const fits = (p: PushText) => p.title.length <= GOTIFY_LIMITS.title && p.message.length <= GOTIFY_LIMITS.message;
  const parts = packRendered(events, (group) => pushText(templates, group), fits);
  return parts.map((part, i) => {
    const link = part.group.length === 1 ? eventLink(part.group[0]!) : null;
    const extras: Record<string, unknown> = { 'client::display': { contentType: 'text/plain' } };
    if (link !== null) extras['client::notification'] = { click: { url: link } };
    return {
      title: partTitle(part.title, i, parts.length, GOTIFY_LIMITS.title),
      message: truncate(part.message, GOTIFY_LIMITS.message),
      priority,
      extras,
    };
  });
}

/** Gotify's error body: {"error":"Unauthorized","errorCode":401,"errorDescription":"…"}. */
function gotifyReason(body: string): string {
  const json = jsonBody(body);
  return oneLine(stringField(json, 'errorDescription') ?? stringField(json, 'error') ?? body.slice(0, 100), 200);
}
