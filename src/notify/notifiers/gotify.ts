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
import { httpSend, statusError } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type ConfigProblem, type Notifier } from '../notifier.js';
import { DEFAULT_TITLE, compileTemplate, eventLink, renderTemplate, templateProblems, type CompiledTemplate } from '../template.js';
import { DEFAULT_PUSH_BODY, cutText, joinUrl, jsonObject, packEvents, partSuffix, stringField } from '../split.js';

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

  validate: (config): ConfigProblem[] =>
    templateProblems([
      ['templateTitle', config.templateTitle, 'text'],
      ['templateBody', config.templateBody, 'text'],
    ]),

  create(config): Notifier {
    const label = `gotify ${config.name}`;
    const url = joinUrl(config.url, 'message');
    const title = compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE);
    const body = compileTemplate('templateBody', config.templateBody ?? DEFAULT_PUSH_BODY);
    return {
      name: config.name,
      type: 'gotify',
      async send(msg) {
        if (config.token === undefined) throw new NotifyError(`${label}: no token configured`, { permanent: true });
        const parts = gotifyPayloads(msg.events, { title, body }, config.priority);
        for (const payload of parts) {
          const req = {
            label, url, method: 'POST' as const, timeoutMs: config.timeout, secrets: [config.token],
            headers: { 'Content-Type': 'application/json', 'X-Gotify-Key': config.token },
            body: JSON.stringify(payload),
          };
          const answer = await httpSend(req);
          const error = statusError(req, answer, gotifyReason(answer.body));
          if (error !== undefined) throw error;
        }
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

/** The messages for a delivery: one, or several when the batch exceeds GOTIFY_LIMITS. */
export function gotifyPayloads(events: readonly HeraldEvent[], templates: { title: CompiledTemplate; body: CompiledTemplate }, priority: number): GotifyPayload[] {
  const render = (group: readonly HeraldEvent[]) => ({
    group,
    title: oneLine(renderTemplate(templates.title, group)) || `${group.length} image changes`,
    message: renderTemplate(templates.body, group).trim() || `${group.length} image changes`,
  });
  const parts = packEvents(events, render, (p) => p.title.length <= GOTIFY_LIMITS.title && p.message.length <= GOTIFY_LIMITS.message);
  return parts.map((part, i) => {
    const suffix = partSuffix(i, parts.length);
    const link = part.group.length === 1 ? eventLink(part.group[0]!) : null;
    const extras: Record<string, unknown> = { 'client::display': { contentType: 'text/plain' } };
    if (link !== null) extras['client::notification'] = { click: { url: link } };
    return {
      title: `${oneLine(part.title, GOTIFY_LIMITS.title - suffix.length)}${suffix}`,
      message: cutText(part.message, GOTIFY_LIMITS.message),
      priority,
      extras,
    };
  });
}

/** Gotify's error body: {"error":"Unauthorized","errorCode":401,"errorDescription":"…"}. */
function gotifyReason(body: string): string {
  const json = jsonObject(body);
  return oneLine(stringField(json, 'errorDescription') ?? stringField(json, 'error') ?? body.slice(0, 100), 200);
}
