/**
 * What the push notifiers (gotify, pushover, matrix) share: a default text body that also names an
 * event's containers, packing a delivery's events into as few messages as a service's limits
 * allow, cutting one text to a limit, and reading a service's JSON error body.
 *
 * Splitting a batch: the events are packed in order into groups whose rendered message fits
 * (`fits`); each group is rendered again with the same templates, so a custom template sees only
 * its group's events. One event whose message alone does not fit is sent alone, cut to the limit
 * by the notifier. The parts of one delivery are sent in order; a failure fails the delivery.
 */
import type { HeraldEvent } from '../model/event.js';
import { DEFAULT_BODY } from './template.js';

/**
 * DEFAULT_BODY plus, for events from engine and cluster sources, the containers that run the
 * image, each marked when it runs behind the tag.
 */
export const DEFAULT_PUSH_BODY = DEFAULT_BODY.replace(
  '{% if e.error %}',
  '{% if e.containers.size > 0 %}containers: {% for c in e.containers %}{{ c.name }}{% if c.outdated %} (outdated){% endif %}' +
    '{% unless forloop.last %}, {% endunless %}{% endfor %}\n{% endif %}{% if e.error %}',
);

/**
 * Packs events, in order, into consecutive groups for which `fits(render(group))` holds, each as
 * large as possible (an exponential then binary search, so a batch of n costs O(n log n) renders).
 * A single event that does not fit is a group of its own; the caller cuts its message.
 */
export function packEvents<T>(events: readonly HeraldEvent[], render: (group: readonly HeraldEvent[]) => T, fits: (part: T) => boolean): T[] {
  const whole = render(events);
  if (fits(whole)) return [whole];
  const parts: T[] = [];
  let start = 0;
  while (start < events.length) {
    const fitsUpTo = (end: number): T | undefined => {
      const part = render(events.slice(start, end));
      return fits(part) ? part : undefined;
    };
    let best = fitsUpTo(start + 1);
    let bestEnd = start + 1;
    if (best !== undefined) {
      // Grow while it fits, then bisect between the last size that fit and the first that did not.
      let step = 1;
      let bad = events.length + 1;
      while (bestEnd < events.length) {
        const end = Math.min(events.length, bestEnd + step);
        const part = fitsUpTo(end);
        if (part === undefined) {
          bad = end;
          break;
        }
        best = part;
        bestEnd = end;
        step *= 2;
      }
      while (bad - bestEnd > 1 && bestEnd < events.length) {
        const mid = Math.floor((bestEnd + bad) / 2);
        const part = fitsUpTo(mid);
        if (part === undefined) bad = mid;
        else {
          best = part;
          bestEnd = mid;
        }
      }
    }
    parts.push(best ?? render(events.slice(start, start + 1)));
    start = bestEnd;
  }
  return parts;
}

/**
 * Cuts text to at most `max` units of `measure` (characters by default), ending in "…", at a line
 * break when one is in the last quarter, never inside a UTF-16 surrogate pair.
 */
export function cutText(text: string, max: number, measure: (s: string) => number = (s) => s.length): string {
  if (measure(text) <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (measure(`${text.slice(0, mid)}…`) <= max) lo = mid;
    else hi = mid - 1;
  }
  let cut = lo;
  const newline = text.lastIndexOf('\n', cut);
  if (newline > cut * 0.75) cut = newline + 1;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** " (2/3)" for the second of three parts; "" when there is one. */
export function partSuffix(index: number, count: number): string {
  return count > 1 ? ` (${index + 1}/${count})` : '';
}

/** A JSON object body, or undefined when the body is not one (an HTML error page, a cut body). */
export function jsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A field of a JSON body as a string, if it is one. */
export function stringField(body: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = body?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** A field of a JSON body as a non-negative finite number, if it is one. */
export function numberField(body: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = body?.[key];
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Joins a base URL (which may have a path, e.g. https://example.com/gotify/) and a path. */
export function joinUrl(base: string, path: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
  return url;
}
