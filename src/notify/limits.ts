/**
 * What the chat and push notifiers share to stay inside a service's limits and to read its answers:
 * measuring text as the service counts it, cutting and splitting text at safe places (never inside
 * a UTF-16 surrogate pair, an HTML entity such as `&amp;` or a tag), packing a batch's blocks into
 * as few messages as fit, sending a split delivery part by part, and reading a JSON error body.
 */
import { isPlainObject } from '../util/text.js';

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
function fittingPrefix(text: string, max: number, measure: Measure): number {
  if (measure(text) <= max) return text.length;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(text.slice(0, mid)) <= max) lo = mid;
    else hi = mid - 1;
  }
  return safeCut(text, lo);
}

/** text cut to measure ≤ max, ending in "…" when cut. */
export function truncate(text: string, max: number, measure: Measure = utf16Length): string {
  if (measure(text) <= max) return text;
  return `${text.slice(0, fittingPrefix(text, max - measure('…'), measure))}…`;
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
 * Groups blocks in order into as few groups as `fits` allows: a block joins the current group when
 * the group with it still fits, else it starts the next one. A block that does not fit even alone
 * gets a group of its own (callers cut blocks to fit beforehand).
 */
export function pack<T>(blocks: readonly T[], fits: (group: readonly T[]) => boolean): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  for (const block of blocks) {
    if (current.length > 0 && !fits([...current, block])) {
      groups.push(current);
      current = [];
    }
    current.push(block);
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** "title (2/3)" for the second of three parts; the title itself when there is one part. */
export function partTitle(title: string, index: number, total: number): string {
  return total > 1 ? `${title} (${index + 1}/${total})` : title;
}

const PROGRESS_KEEP = 1_000;

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

  private remember(deliveryId: string, parts: number, sent: number): void {
    this.accepted.delete(deliveryId);
    this.accepted.set(deliveryId, { parts, sent });
    if (this.accepted.size > PROGRESS_KEEP) this.accepted.delete(this.accepted.keys().next().value!);
  }
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
