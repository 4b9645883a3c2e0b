/**
 * What the chat and push notifiers share to stay inside a service's limits and to talk to it:
 * measuring text as the service counts it, cutting text (never inside a UTF-16 surrogate pair) and
 * splitting it at safe places (nor inside an HTML entity such as `&amp;` or a tag), packing a
 * batch's blocks or events into as few messages as fit, numbering the parts, posting a split
 * delivery part by part, and reading a JSON error body.
 *
 * Splitting a batch: its blocks (or events, rendered again per group with the same templates, so
 * a custom template sees only its group's events) are packed in order into groups that fit; a
 * block or event that does not fit alone is a group of its own, cut to the limit by the notifier.
 * The parts of one delivery are sent in order; a failure fails the delivery.
 */
import { isPlainObject } from '../util/text.js';
import type { HeraldEvent } from '../model/event.js';
import { httpSend, type HttpAnswer, type HttpPost } from './http.js';
import { NotifyError, type Notifier } from './notifier.js';
import { DEFAULT_TITLE, compileTemplate } from './template.js';
import { customBody, messageHeading } from './facts.js';

/** How a service counts a text: UTF-16 code units (Discord, Telegram), UTF-8 bytes (ntfy, Teams). */
export type Measure = (text: string) => number;

export const utf16Length: Measure = (text) => text.length;
export const utf8Bytes: Measure = (text) => Buffer.byteLength(text, 'utf8');

/** HTML as Telegram counts it: the visible text, tags removed and entities counted as one character. */
export const htmlVisibleLength: Measure = (html) => html.replace(/<[^>]*>/g, '').replace(/&(?:#\d+|#x[0-9a-f]+|[a-z]+);/gi, '_').length;

/**
 * The last index ≤ cut at which `text` may be cut: not after a high surrogate, not inside an
 * entity (`&…;`) or a tag (`<…>`). Only looks back a little: an entity is short, a tag is ours.
 */
export function safeCut(text: string, cut: number): number {
  let at = Math.max(0, Math.min(cut, text.length));
  const open = text.lastIndexOf('<', at - 1);
  if (open >= 0 && open > text.lastIndexOf('>', at - 1)) at = open;
  const amp = text.lastIndexOf('&', at - 1);
  if (amp >= 0 && at - amp <= 10 && /^&(?:#\d*|#x[0-9a-f]*|[a-z]*)$/i.test(text.slice(amp, at))) at = amp;
  const code = text.charCodeAt(at - 1);
  if (code >= 0xd800 && code <= 0xdbff) at--;
  return at;
}

/** The longest safe prefix of text whose measure is ≤ max (binary search: measures are monotone). */
function fittingPrefix(text: string, max: number, measure: Measure, cutAt: (text: string, cut: number) => number = safeCut): number {
  if (measure(text) <= max) return text.length;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(text.slice(0, mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  return cutAt(text, lo);
}

/**
 * text cut to measure ≤ max (the "…" it then ends in included), at a line break when one is in the
 * last quarter, never inside a UTF-16 surrogate pair. The text is plain: markup is not looked at.
 */
export function truncate(text: string, max: number, measure: Measure = utf16Length): string {
  if (measure(text) <= max) return text;
  let cut = fittingPrefix(text, max, (s) => measure(`${s}…`), (_, at) => at);
  const newline = text.lastIndexOf('\n', cut);
  if (newline > cut * 0.75) cut = newline + 1;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

/**
 * text split into chunks each of measure ≤ max: at the last line break that fits, else at the last
 * space, else at the last safe place. The line break a chunk ends at is dropped. Never returns an
 * empty list for non-empty text.
 */
export function splitText(text: string, max: number, measure: Measure = utf16Length): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (measure(rest) > max) {
    const fit = fittingPrefix(rest, max, measure);
    const head = rest.slice(0, fit);
    const newline = head.lastIndexOf('\n');
    const space = head.lastIndexOf(' ');
    // Prefer a line break in the second half of the chunk, then a space; tiny chunks are worse.
    const at = newline > fit / 2 ? newline : space > fit / 2 ? space : fit;
    const cut = at > 0 ? at : Math.max(1, fit);
    chunks.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^[\n ]/, '');
  }
  if (rest !== '' || chunks.length === 0) chunks.push(rest);
  return chunks;
}

/**
 * Groups blocks in order into as few groups as `fits` allows, each as large as it can be. A block
 * that does not fit even alone gets a group of its own (callers cut blocks to fit beforehand).
 */
export function pack<T>(blocks: readonly T[], fits: (group: readonly T[]) => boolean): T[][] {
  return packRendered(blocks, (group) => [...group], fits);
}

/**
 * Packs items (a batch's events), in order, into consecutive groups for which `fits(render(group))`
 * holds, each as large as possible, and returns the groups rendered. `fits` must be monotone (a
 * group that does not fit does not fit with more items): the search is exponential then binary, so
 * a batch of n costs O(n log n) renders. An item that does not fit alone is a group of its own; the
 * caller cuts its message.
 */
export function packRendered<T, P>(items: readonly T[], render: (group: readonly T[]) => P, fits: (part: P) => boolean): P[] {
  const whole = render(items);
  if (fits(whole)) return [whole];
  const parts: P[] = [];
  let start = 0;
  while (start < items.length) {
    const fitsUpTo = (end: number): P | undefined => {
      const part = render(items.slice(start, end));
      return fits(part) ? part : undefined;
    };
    let best = fitsUpTo(start + 1);
    let bestEnd = start + 1;
    if (best !== undefined) {
      // Grow while it fits, then bisect between the last size that fit and the first that did not.
      let step = 1;
      let bad = items.length + 1;
      while (bestEnd < items.length) {
        const end = Math.min(items.length, bestEnd + step);
        const part = fitsUpTo(end);
        if (part === undefined) {
          bad = end;
          break;
        }
        best = part;
        bestEnd = end;
        step *= 2;
      }
      while (bad - bestEnd > 1 && bestEnd < items.length) {
        const mid = Math.floor((bestEnd + bad) / 2);
        const part = fitsUpTo(mid);
        if (part === undefined) bad = mid;
        else {
          best = part;
          bestEnd = mid;
        }
      }
    }
    parts.push(best ?? render(items.slice(start, start + 1)));
    start = bestEnd;
  }
  return parts;
}

/** " (2/3)" for the second of three parts; "" when there is one. */
export function partSuffix(index: number, total: number): string {
  return total > 1 ? ` (${index + 1}/${total})` : '';
}

/** "title (2/3)" for the second of three parts, the title cut so that the whole is ≤ max characters. */
export function partTitle(title: string, index: number, total: number, max = Infinity): string {
  const suffix = partSuffix(index, total);
  return `${truncate(title, max - suffix.length)}${suffix}`;
}

const PROGRESS_KEEP = 1_000;

/** Where and how a service takes a JSON POST, and how its answer reads. */
export interface JsonService {
  label: string;
  url: URL;
  /** Content-Type is application/json unless given. */
  headers?: Record<string, string>;
  timeoutMs: number;
  secrets: ReadonlyArray<string | undefined>;
  /** The service's error for an answer, or undefined when it took the message. */
  check(req: HttpPost, answer: HttpAnswer): NotifyError | undefined;
}

/**
 * Sends a delivery that was split into several messages as one: the parts in order, and when one
 * fails the error goes to the outbox, which retries the whole delivery. This remembers (in memory,
 * per notifier) how many parts of a delivery the service already accepted, so a retry in the same
 * process starts at the part that failed: no part is posted twice. After a restart or a config
 * reload the memory is gone, and a retry sends the earlier parts again.
 */
export class SplitSender {
  private readonly accepted = new Map<string, { parts: number; sent: number }>();

  async send<P>(deliveryId: string, parts: readonly P[], sendPart: (part: P, index: number) => Promise<void>): Promise<void> {
    const known = this.accepted.get(deliveryId);
    // The same delivery always splits the same way; if it did not (a changed template), start over.
    let sent = known !== undefined && known.parts === parts.length ? known.sent : 0;
    for (; sent < parts.length; sent++) {
      try {
        await sendPart(parts[sent]!, sent);
      } catch (err) {
        if (sent > 0) this.remember(deliveryId, parts.length, sent);
        throw err;
      }
    }
    this.accepted.delete(deliveryId);
  }

  /** send() with each part POSTed as JSON (`body(part, index)`, the part itself by default) to the service. */
  post<P>(deliveryId: string, parts: readonly P[], service: JsonService, body: (part: P, index: number) => unknown = (part) => part): Promise<void> {
    return this.send(deliveryId, parts, async (part, index) => {
      const req: HttpPost = {
        label: service.label,
        url: service.url,
        method: 'POST',
        headers: service.headers ?? { 'Content-Type': 'application/json' },
        body: JSON.stringify(body(part, index)),
        timeoutMs: service.timeoutMs,
        secrets: service.secrets,
      };
      const error = service.check(req, await httpSend(req));
      if (error !== undefined) throw error;
    });
  }

  private remember(deliveryId: string, parts: number, sent: number): void {
    this.accepted.delete(deliveryId);
    this.accepted.set(deliveryId, { parts, sent });
    if (this.accepted.size > PROGRESS_KEEP) this.accepted.delete(this.accepted.keys().next().value!);
  }
}

/** What a chat service that takes JSON messages at a secret webhook URL (Discord, Teams) adds to its config. */
export interface WebhookChat<P> {
  /** The heading (the rendered templateTitle) is cut to this many characters. */
  headingMax: number;
  /** The messages for a delivery: its events laid out, or the rendered templateBody (custom). */
  payloads(events: readonly HeraldEvent[], heading: string, custom?: string): P[];
  check: JsonService['check'];
}

export interface WebhookChatConfig {
  name: string;
  type: string;
  webhookUrl?: string | undefined;
  webhookUrlFile?: string | undefined;
  templateTitle?: string | undefined;
  templateBody?: string | undefined;
  timeout: number;
}

/** An entry that gives neither webhookUrl nor webhookUrlFile. */
export function webhookUrlProblems(config: WebhookChatConfig): string[] {
  return config.webhookUrl === undefined && config.webhookUrlFile === undefined ? [`a ${config.type} notifier needs webhookUrl or webhookUrlFile`] : [];
}

/** A webhook chat notifier: each delivery's payloads POSTed in order, a retry resuming at the failed one. */
export function webhookChatNotifier<P>(config: WebhookChatConfig, chat: WebhookChat<P>): Notifier {
  const label = `${config.type} ${config.name}`;
  const url = config.webhookUrl === undefined ? undefined : new URL(config.webhookUrl);
  const title = compileTemplate('templateTitle', config.templateTitle ?? DEFAULT_TITLE);
  const body = config.templateBody === undefined ? undefined : compileTemplate('templateBody', config.templateBody);
  const parts = new SplitSender();
  return {
    name: config.name,
    type: config.type,
    async send(msg) {
      if (url === undefined) throw new NotifyError(`${label}: no webhookUrl configured`, { permanent: true });
      const payloads = chat.payloads(msg.events, messageHeading(title, msg.events, chat.headingMax), customBody(body, msg.events));
      await parts.post(msg.deliveryId, payloads, { label, url, timeoutMs: config.timeout, secrets: [], check: chat.check });
    },
    async close() {
      // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
    },
  };
}

/** The answer's body as a JSON object, or undefined (not JSON, cut off, not an object). */
export function jsonBody(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return isPlainObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A wait given in seconds (Discord, Telegram), as whole milliseconds; undefined unless ≥ 0. */
export function secondsToMs(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.ceil(value * 1000) : undefined;
}

/** A string field of a JSON object, or undefined. */
export function stringField(obj: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = obj?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** A field of a JSON object as a non-negative finite number, or undefined. */
export function numberField(obj: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = obj?.[key];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Joins a base URL (which may have a path, e.g. https://example.com/gotify/) and a path. */
export function joinUrl(base: string, path: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return url;
}
