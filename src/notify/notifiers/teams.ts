/**
 * Microsoft Teams through a workflow (Power Automate "when a Teams webhook request is received") or
 * an incoming webhook: a `message` whose one attachment is an Adaptive Card
 * (`application/vnd.microsoft.card.adaptive`, version 1.4): a title, then per event its image
 * (linked), status and a FactSet. Teams takes messages up to about 28 KB, so a batch whose card
 * would be larger is split into several cards. Workflows answer 202, connectors 200. The webhook
 * URL (it carries a signature) is a secret: messages show its origin only.
 */
import { z } from 'zod';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { isPlainObject } from '../../util/text.js';
import { statusError, type HttpAnswer } from '../http.js';
import { defineNotifier, notifierCommon, type NotifyError } from '../notifier.js';
import { eventLink } from '../template.js';
import { eventFacts, textTemplateProblems } from '../facts.js';
import { jsonBody, pack, partTitle, splitText, stringField, truncate, utf8Bytes, webhookChatNotifier, webhookUrlProblems } from '../limits.js';

export const teamsSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('teams'),
    webhookUrl: httpUrl.optional(),
    webhookUrlFile: z.string().optional(),
    timeout: duration.prefault('10s'),
  })
  .strict();

/** Teams' ~28 KB per message, less room for what a workflow wraps around the card. */
export const TEAMS_PAYLOAD_MAX = 26 * 1024;
export const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

type CardElement = Record<string, unknown> & { type: string };
export interface TeamsPayload {
  type: 'message';
  attachments: Array<{ contentType: typeof CARD_CONTENT_TYPE; contentUrl: null; content: Record<string, unknown> }>;
}

export const teamsModule = defineNotifier({
  schema: teamsSchema,
  secretKeys: ['webhookUrl'],

  entryProblems: webhookUrlProblems,

  validate: textTemplateProblems,

  create: (config) => webhookChatNotifier(config, { headingMax: 500, payloads: teamsPayloads, check: teamsError }),
});

/** The cards for a delivery: its event blocks packed into as few cards as stay under the size limit. */
export function teamsPayloads(events: readonly HeraldEvent[], heading: string, custom?: string): TeamsPayload[] {
  const blocks: CardElement[] =
    custom !== undefined
      ? splitText(custom === '' ? '…' : custom, TEAMS_PAYLOAD_MAX / 2, utf8Bytes).map((text) => ({ type: 'TextBlock', text, wrap: true }))
      : events.map(eventContainer);
  const size = (group: readonly CardElement[]) => utf8Bytes(JSON.stringify(payload(`${heading} (00/00)`, group, null)));
  const groups = pack(blocks, (group) => size(group) <= TEAMS_PAYLOAD_MAX);
  const link = events.length === 1 ? eventLink(events[0]!) : null;
  return groups.map((group, i) => payload(partTitle(heading, i, groups.length), group, link));
}

function payload(heading: string, blocks: readonly CardElement[], link: string | null): TeamsPayload {
  const content: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    body: [{ type: 'TextBlock', text: heading, size: 'Medium', weight: 'Bolder', wrap: true }, ...blocks],
    ...(link !== null ? { actions: [{ type: 'Action.OpenUrl', title: 'Open', url: link }] } : {}),
    msteams: { width: 'Full' },
  };
  return { type: 'message', attachments: [{ contentType: CARD_CONTENT_TYPE, contentUrl: null, content }] };
}

/** One event: "**update**: [image](link)" and a FactSet of its facts. */
export function eventContainer(event: HeraldEvent): CardElement {
  const link = eventLink(event);
  const image = escapeMarkdown(event.image);
  return {
    type: 'Container',
    separator: true,
    items: [
      { type: 'TextBlock', text: `**${event.status}**: ${link === null ? image : `[${image}](${link})`}`, wrap: true },
      { type: 'FactSet', facts: eventFacts(event).map((f) => ({ title: f.label, value: truncate(f.value, 1_000) })) },
    ],
  };
}

/** Adaptive Card markdown would read `*` and `_` in names as emphasis and `[` as a link. */
function escapeMarkdown(text: string): string {
  return text.replace(/([\\*_[\]])/g, '\\$1');
}

/**
 * Workflows answer errors as `{"error": {"code", "message"}}` (Logic Apps); connectors answer text
 * such as "Webhook message delivery failed with error: …". 429 and 5xx are retried, with Retry-After.
 */
function teamsError(req: Parameters<typeof statusError>[0], answer: HttpAnswer): NotifyError | undefined {
  if (answer.status >= 200 && answer.status < 300) return undefined;
  const error = jsonBody(answer.body)?.error;
  const detail = isPlainObject(error) ? [stringField(error, 'code'), stringField(error, 'message')].filter(Boolean).join(': ') : answer.body.slice(0, 200);
  return statusError(req, answer, detail);
}
