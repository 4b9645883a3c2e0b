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

/** A response body as undici gives it: chunks to read, and destroy() to stop reading. */
export interface BodyStream extends AsyncIterable<Buffer> {
  destroy(): unknown;
}

/**
 * Reads a body up to `limit` bytes. Past the limit nothing more is read and the stream is destroyed;
 * with `truncate` the first `limit` bytes come back, without it undefined (the caller names the
 * problem in its own words).
 */
export async function readBounded(body: BodyStream, limit: number, truncate = false): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > limit) {
      body.destroy();
      if (!truncate) return undefined;
      chunks.push(chunk.subarray(0, chunk.length - (total - limit)));
      return Buffer.concat(chunks);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
