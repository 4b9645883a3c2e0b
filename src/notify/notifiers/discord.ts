/**
 * Discord webhook execute: `content` (the title, what a phone notification shows) and one embed per
 * event (title, url, description, fields, timestamp). Discord's limits are kept: ≤ 10 embeds per
 * message, title ≤ 256, description ≤ 4096, field value ≤ 1024, all embeds' text ≤ 6000 together;
 * a batch over them is split into several messages. The webhook URL is a secret: messages show its
 * origin only.
 */
import { z } from 'zod';
import { duration, httpUrl } from '../../util/schema.js';
import type { HeraldEvent } from '../../model/event.js';
import { isPlainObject } from '../../util/text.js';
import { statusError, type HttpAnswer } from '../http.js';
import { defineNotifier, notifierCommon, type NotifyError } from '../notifier.js';
import { eventLink } from '../template.js';
import { eventFacts, eventHeadline, textTemplateProblems } from '../facts.js';
import { jsonBody, pack, partTitle, secondsToMs, splitText, stringField, truncate, webhookChatNotifier, webhookUrlProblems } from '../limits.js';

export const discordSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('discord'),
    webhookUrl: httpUrl.optional(),
    webhookUrlFile: z.string().optional(),
    timeout: duration.prefault('10s'),
  })
  .strict();

export const DISCORD_LIMITS = { content: 2000, embeds: 10, title: 256, description: 4096, fieldValue: 1024, total: 6000 } as const;

export interface DiscordEmbed {
  title?: string;
  description?: string;
  url?: string;
  color?: number;
  timestamp?: string;
  fields?: Array<{ name: string; value: string; inline?: boolean }>;
}
export interface DiscordPayload {
  content: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: never[] };
}

const COLORS: Record<HeraldEvent['status'], number> = { new: 0x2ecc71, update: 0x3498db, error: 0xe74c3c };

export const discordModule = defineNotifier({
  schema: discordSchema,
  secretKeys: ['webhookUrl'],

  entryProblems: webhookUrlProblems,

  validate: textTemplateProblems,

  create: (config) => webhookChatNotifier(config, { headingMax: 1_900, payloads: discordPayloads, check: discordError }),
});

/** The messages for a delivery: its embeds packed ≤ 10 and ≤ 6000 characters per message. */
export function discordPayloads(events: readonly HeraldEvent[], heading: string, custom?: string): DiscordPayload[] {
  const embeds = custom !== undefined ? customEmbeds(events, custom) : events.map(eventEmbed);
  const groups = pack(embeds, (group) => group.length <= DISCORD_LIMITS.embeds && group.reduce((n, e) => n + embedLength(e), 0) <= DISCORD_LIMITS.total);
  return groups.map((group, i) => ({
    content: truncate(partTitle(heading, i, groups.length), DISCORD_LIMITS.content),
    embeds: group,
    // Image names are not mentions: never ping @everyone or a role from a notification.
    allowed_mentions: { parse: [] },
  }));
}

export function eventEmbed(event: HeraldEvent): DiscordEmbed {
  const link = eventLink(event);
  const facts = eventFacts(event);
  const short = facts.filter((f) => f.label !== 'containers' && f.label !== 'error');
  const long = facts.filter((f) => f.label === 'containers' || f.label === 'error');
  return {
    title: truncate(eventHeadline(event), DISCORD_LIMITS.title),
    ...(link !== null ? { url: link } : {}),
    ...(long.length > 0 ? { description: truncate(long.map((f) => `**${f.label}**: ${f.value}`).join('\n'), 2_000) } : {}),
    fields: short.map((f) => ({ name: f.label, value: truncate(f.value, DISCORD_LIMITS.fieldValue), inline: true })),
    color: COLORS[event.status],
    timestamp: event.detectedAt,
  };
}

/** A templateBody: its text in descriptions of ≤ 4096 characters, the single event's link on the first. */
function customEmbeds(events: readonly HeraldEvent[], text: string): DiscordEmbed[] {
  const link = events.length === 1 ? eventLink(events[0]!) : null;
  // Several chunks must also fit 6000 together per message: chunks of 4096 pack one per message.
  return splitText(text === '' ? '…' : text, DISCORD_LIMITS.description).map((description, i) => ({
    description,
    ...(i === 0 && link !== null ? { url: link, title: truncate(eventHeadline(events[0]!), DISCORD_LIMITS.title) } : {}),
  }));
}

/** The characters Discord counts towards the 6000 of a message's embeds. */
export function embedLength(embed: DiscordEmbed): number {
  const fields = (embed.fields ?? []).reduce((n, f) => n + f.name.length + f.value.length, 0);
  return (embed.title?.length ?? 0) + (embed.description?.length ?? 0) + fields;
}

/**
 * Discord answers errors as `{"message", "code", "errors"?}`; a 429 as `{"message", "retry_after"
 * (seconds, a float), "global"}` with the same wait in Retry-After. The body's wait wins.
 */
function discordError(req: Parameters<typeof statusError>[0], answer: HttpAnswer): NotifyError | undefined {
  if (answer.status >= 200 && answer.status < 300) return undefined;
  const json = jsonBody(answer.body);
  const retryAfterMs = answer.status === 429 ? secondsToMs(json?.retry_after) : undefined;
  const message = stringField(json, 'message');
  const where = firstFormError(json?.errors);
  const detail = message === undefined ? answer.body.slice(0, 100) : `${message}${where !== undefined ? ` (${where})` : ''}`;
  return statusError(req, answer, detail, retryAfterMs !== undefined ? { retryAfterMs } : {});
}

/** "embeds.0.description: Must be 4096 or fewer in length." from an Invalid Form Body's `errors`. */
function firstFormError(errors: unknown, at: string[] = []): string | undefined {
  if (!isPlainObject(errors)) return undefined;
  const list = errors._errors;
  if (Array.isArray(list) && isPlainObject(list[0])) return `${at.join('.')}: ${String(list[0].message)}`;
  for (const [key, value] of Object.entries(errors)) {
    const found = firstFormError(value, [...at, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}
