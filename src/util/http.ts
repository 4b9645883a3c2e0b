/**
 * Retry-After as delay-seconds or an HTTP-date, in ms from `now`; undefined when absent or
 * unreadable. An HTTP-date always has letters (a weekday and a month), so text without letters
 * that is not whole seconds ("-3", "1.5", "2026-01-01") is unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
