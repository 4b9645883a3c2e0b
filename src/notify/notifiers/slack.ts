/**
 * Slack Incoming Webhook: a plain `text` fallback and Block Kit `blocks` kept inside Slack's limits
 * (header ≤ 150 chars, section text ≤ 3000, ≤ 50 blocks). The webhook URL is a secret: messages
 * show its origin only.
 */
import { z } from 'zod';
import { oneLine } from '../../util/text.js';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { httpSend, statusError } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type ConfigProblem, type Notifier } from '../notifier.js';
import {
  DEFAULT_TITLE, compileTemplate, escapeMrkdwn, eventLink, renderTemplate, templateProblems, type CompiledTemplate,
} from '../template.js';
import { shortDigest } from '../../model/digest.js';
import { webhookUrlProblems } from '../limits.js';

export const slackSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('slack'),
    webhookUrl: httpUrl.optional(),
    webhookUrlFile: z.string().optional(),
    timeout: duration.prefault('10s'),
  })
  .strict();

const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const BLOCKS_MAX = 50;

type TextObject = { type: 'plain_text' | 'mrkdwn'; text: string };
export type SlackBlock =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text: TextObject }
  | { type: 'context'; elements: TextObject[] };
export interface SlackPayload { text: string; blocks: SlackBlock[] }

export interface SlackTemplates {
  /** Plain text for the header; default DEFAULT_TITLE. */
  title: CompiledTemplate;
  /** mrkdwn replacing the event sections; values it prints are escaped. */
  body?: CompiledTemplate;
}

export const slackModule = defineNotifier({
  schema: slackSchema,
  secretKeys: ['webhookUrl'],

  entryProblems: webhookUrlProblems,

  validate(config): ConfigProblem[] {
    return templateProblems([
      ['templateTitle', config.templateTitle, 'text'],
      ['templateBody', config.templateBody, 'mrkdwn'],
    ]);
  },

  create(config): Notifier {
    const label = `slack ${config.name}`;
    const url = config.webhookUrl === undefined ? undefined : new URL(config.webhookUrl);
    const templates: SlackTemplates = {
      title: compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE, 'text'),
      ...(config.templateBody !== undefined ? { body: compileTemplate('templateBody', config.templateBody, 'mrkdwn') } : {}),
    };

    return {
      name: config.name,
      type: 'slack',
      async send(msg) {
        if (url === undefined) throw new NotifyError(`${label}: no webhookUrl configured`, { permanent: true });
        const body = JSON.stringify(slackPayload(msg.events, templates));
        const req = { label, url, method: 'POST' as const, headers: { 'Content-Type': 'application/json' }, body, timeoutMs: config.timeout, secrets: [] };
        const answer = await httpSend(req);
        // Slack's error bodies are short codes (invalid_blocks, no_service): worth showing.
        const error = statusError(req, answer, answer.body.slice(0, 100));
        if (error !== undefined) throw error;
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});

export function slackPayload(events: readonly HeraldEvent[], templates: SlackTemplates): SlackPayload {
  const title = oneLine(renderTemplate(templates.title, events)) || `${events.length} image events`;
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(title, HEADER_MAX) } }];
  const custom = templates.body === undefined ? '' : renderTemplate(templates.body, events).trim();
  const single = events.length === 1 ? events[0] : undefined;

  if (custom !== '') {
    blocks.push(section(custom));
    if (single !== undefined) blocks.push(context(single));
  } else {
    // header + two blocks per event; when they do not fit, the last block summarizes the rest.
    const fits = 1 + 2 * events.length <= BLOCKS_MAX;
    const shown = fits ? events.length : Math.floor((BLOCKS_MAX - 2) / 2);
    for (const event of events.slice(0, shown)) blocks.push(section(eventText(event)), context(event));
    const rest = events.slice(shown);
    if (rest.length > 0) {
      const names = rest.map((e) => `${escapeMrkdwn(e.image)} (${e.status})`).join(', ');
      blocks.push(section(`…and ${rest.length} more: ${names}`));
    }
  }
  const text = single !== undefined ? title : `${title}: ${events.map((e) => e.image).join(', ')}`;
  return { text: truncateMrkdwn(escapeMrkdwn(text), SECTION_MAX), blocks };
}

function eventText(event: HeraldEvent): string {
  const link = eventLink(event);
  const name = link === null ? escapeMrkdwn(event.image) : `<${escapeMrkdwn(link.replace(/\|/g, '%7C'))}|${escapeMrkdwn(event.image)}>`;
  const lines = [`*${name}* — ${event.status}`];
  if (event.digest !== null) {
    const digest = `\`${shortDigest(event.digest)}\``;
    lines.push(event.previousDigest !== null ? `\`${shortDigest(event.previousDigest)}\` → ${digest}` : digest);
  }
  if (event.error !== null) lines.push(`Error: ${escapeMrkdwn(oneLine(event.error))}`);
  return lines.join('\n');
}

function section(text: string): SlackBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncateMrkdwn(text, SECTION_MAX) } };
}

function context(event: HeraldEvent): SlackBlock {
  const elements: TextObject[] = [{ type: 'mrkdwn', text: `platform: ${escapeMrkdwn(event.platform)}` }];
  if (event.tag !== null) elements.push({ type: 'mrkdwn', text: `tag: ${truncateMrkdwn(escapeMrkdwn(event.tag), 200)}` });
  if (event.created !== null) elements.push({ type: 'mrkdwn', text: `created: ${escapeMrkdwn(event.created)}` });
  return { type: 'context', elements };
}

/**
 * Cuts escaped mrkdwn to at most max chars, ending in "…", never inside a <link|label>, an entity
 * such as &amp;, or a surrogate pair.
 */
export function truncateMrkdwn(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const open = text.lastIndexOf('<', cut - 1);
  if (open > text.lastIndexOf('>', cut - 1)) cut = open;
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && cut - amp < 6 && !text.slice(amp, cut).includes(';')) cut = amp;
  return `${text.slice(0, avoidSurrogateSplit(text, cut))}…`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, avoidSurrogateSplit(text, max - 1))}…`;
}

function avoidSurrogateSplit(text: string, cut: number): number {
  const code = text.charCodeAt(cut - 1);
  return code >= 0xd800 && code <= 0xdbff ? cut - 1 : cut;
}

