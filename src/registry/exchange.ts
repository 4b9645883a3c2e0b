/**
 * One HTTP exchange on an undici dispatcher, read straight into a Buffer through a dispatch handler.
 *
 * Why not undici's `request()`: it wraps every response body in a Readable stream, which herald then
 * reads to its end (or dumps, for a HEAD). For herald's small answers (an empty HEAD, a tag list, a
 * manifest) that stream is most of the client's CPU per request: measured here, 600 requests cost
 * about half the CPU through `dispatch` with a plain handler (docs/BENCHMARKS.md, watchRepo section).
 *
 * Limits are the same as before: a 2xx body larger than `maxBytes` (declared or read) fails the
 * exchange; an error body is kept up to `maxBytes` and the rest is not read.
 */
import type { Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import { RegistryError } from '../util/errors.js';

export interface ExchangeOptions {
  url: URL;
  method: 'GET' | 'HEAD';
  headers: Record<string, string>;
  /** Keep the connection after a HEAD (undici closes it unless told). */
  reset?: boolean;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** An overall deadline: past it the exchange fails with a TimeoutError (undefined: none). */
  deadlineMs?: number;
  /** The body of a 2xx answer may not exceed this many bytes (the exchange fails). */
  maxBytes: number;
  /** The body of any other answer is cut after this many bytes (the rest is not read). */
  errorBytes: number;
  /** Prefix of error messages. */
  subject: string;
}

export interface Exchanged {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function exchange(dispatcher: Dispatcher, opts: ExchangeOptions): Promise<Exchanged> {
  return new Promise<Exchanged>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let status = 0;
    let headers: Record<string, string> = {};
    let limit = 0;
    let truncate = false;
    let chunks: Buffer[] | undefined;
    let total = 0;

    const finish = (err: Error | undefined, value?: Exchanged): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      if (err !== undefined) reject(err);
      else resolve(value!);
    };
    const fail = (err: Error): void => {
      finish(err);
      if (controller !== undefined && !controller.aborted) controller.abort(err);
    };
    const body = (): Buffer => (chunks === undefined ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));

    if (opts.deadlineMs !== undefined) {
      timer = setTimeout(() => fail(new DOMException(`timed out after ${opts.deadlineMs} ms`, 'TimeoutError')), opts.deadlineMs);
      timer.unref();
    }

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (settled) c.abort(new DOMException('timed out', 'TimeoutError'));
      },
      onResponseStart(_c, statusCode, raw) {
        status = statusCode;
        headers = flattenHeaders(raw);
        if (opts.method === 'HEAD') return;
        truncate = statusCode < 200 || statusCode >= 300;
        limit = truncate ? opts.errorBytes : opts.maxBytes;
        const declared = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
        if (!truncate && declared !== undefined && Number.isFinite(declared) && declared > limit) {
          fail(new RegistryError(`${opts.subject}: response of ${declared} bytes exceeds the limit of ${limit} bytes`));
        }
      },
      onResponseData(_c, chunk) {
        if (settled || opts.method === 'HEAD') return;
        total += chunk.length;
        if (total > limit) {
          if (!truncate) return fail(new RegistryError(`${opts.subject}: response exceeds the limit of ${limit} bytes`));
          (chunks ??= []).push(chunk.subarray(0, chunk.length - (total - limit)));
          total = limit;
          finish(undefined, { status, headers, body: body() });
          controller?.abort(new Error('rest of the body not read'));
          return;
        }
        (chunks ??= []).push(chunk);
      },
      onResponseEnd() {
        finish(undefined, { status, headers, body: body() });
      },
      onResponseError(_c, err) {
        finish(err);
      },
    };

    try {
      dispatcher.dispatch(
        {
          origin: opts.url.origin,
          path: `${opts.url.pathname}${opts.url.search}`,
          method: opts.method,
          headers: opts.headers,
          headersTimeout: opts.headersTimeoutMs,
          bodyTimeout: opts.bodyTimeoutMs,
          ...(opts.reset !== undefined ? { reset: opts.reset } : {}),
        },
        handler,
      );
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

function flattenHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
