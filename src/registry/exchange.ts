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
import type { Client, Dispatcher } from 'undici';
import type { Connections } from './connections.js';
import type { IncomingHttpHeaders } from 'node:http';
import { RegistryError } from '../util/errors.js';
import type { HttpRequest } from './http.js';

export interface ExchangeOptions {
  origin: string;
  /** Path and query. */
  path: string;
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
  /** Told of the answer's status and headers (or 'error') as the exchange settles, before its promise does. */
  observer?: ExchangeObserver;
  /** The observer's own: the request this exchange sends, when it started (performance.now()), and the connection it took. */
  request?: HttpRequest;
  started?: number;
  pool?: Connections;
  client?: Client;
}

export interface ExchangeObserver {
  settled(opts: ExchangeOptions, status: number | 'error', headers: Record<string, string> | undefined): void;
}

export interface Exchanged {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

const EMPTY = Buffer.alloc(0);

export function exchange(dispatcher: Dispatcher, opts: ExchangeOptions): Promise<Exchanged> {
  const x = new Exchange(opts);
  const promise = new Promise<Exchanged>((resolve, reject) => {
    x.resolve = resolve;
    x.reject = reject;
  });
  if (opts.deadlineMs !== undefined) {
    x.timer = setTimeout(() => x.fail(new DOMException(`timed out after ${opts.deadlineMs} ms`, 'TimeoutError')), opts.deadlineMs);
    x.timer.unref();
  }
  try {
    dispatcher.dispatch(
      // reset undefined is undici's default (it reads `reset ?? null`), so one literal serves both cases.
      { origin: opts.origin, path: opts.path, method: opts.method, headers: opts.headers, headersTimeout: opts.headersTimeoutMs, bodyTimeout: opts.bodyTimeoutMs, reset: opts.reset },
      x,
    );
  } catch (err) {
    x.finish(err instanceof Error ? err : new Error(String(err)));
  }
  return promise;
}

/**
 * One exchange's state and its dispatch handler in one object (undici calls the handler's methods on
 * it): a request allocates this instead of a closure per callback.
 */
class Exchange implements Dispatcher.DispatchHandler {
  // Set in the constructor, not as class fields: one function call less per request in the interpreter.
  declare resolve: (value: Exchanged) => void;
  declare reject: (err: Error) => void;
  declare timer: NodeJS.Timeout | undefined;
  private declare readonly opts: ExchangeOptions;
  private declare controller: Dispatcher.DispatchController | undefined;
  private declare settled: boolean;
  private declare status: number;
  private declare headers: Record<string, string>;
  private declare limit: number;
  private declare truncate: boolean;
  private declare chunks: Buffer[] | undefined;
  private declare total: number;

  constructor(opts: ExchangeOptions) {
    this.opts = opts;
    this.resolve = noop;
    this.reject = noop;
    this.timer = undefined;
    this.controller = undefined;
    this.settled = false;
    this.status = 0;
    this.headers = {};
    this.limit = 0;
    this.truncate = false;
    this.chunks = undefined;
    this.total = 0;
  }

  finish(err: Error | undefined, value?: Exchanged): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const observer = this.opts.observer;
    if (observer !== undefined) {
      try {
        observer.settled(this.opts, err === undefined ? value!.status : 'error', err === undefined ? value!.headers : undefined);
      } catch {
        // bookkeeping must not lose the answer
      }
    }
    if (err !== undefined) this.reject(err);
    else this.resolve(value!);
  }

  fail(err: Error): void {
    this.finish(err);
    const controller = this.controller;
    if (controller !== undefined && !controller.aborted) controller.abort(err);
  }

  private body(): Buffer {
    const chunks = this.chunks;
    return chunks === undefined ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.total);
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.controller = c;
    if (this.settled) c.abort(new DOMException('timed out', 'TimeoutError'));
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, raw: IncomingHttpHeaders): void {
    this.status = statusCode;
    const headers = (this.headers = flattenHeaders(raw));
    if (this.opts.method === 'HEAD') return;
    const truncate = (this.truncate = statusCode < 200 || statusCode >= 300);
    const limit = (this.limit = truncate ? this.opts.errorBytes : this.opts.maxBytes);
    const declared = headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined;
    if (!truncate && declared !== undefined && Number.isFinite(declared) && declared > limit) {
      this.fail(new RegistryError(`${this.opts.subject}: response of ${declared} bytes exceeds the limit of ${limit} bytes`));
    }
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled || this.opts.method === 'HEAD') return;
    this.total += chunk.length;
    if (this.total > this.limit) {
      if (!this.truncate) return this.fail(new RegistryError(`${this.opts.subject}: response exceeds the limit of ${this.limit} bytes`));
      (this.chunks ??= []).push(chunk.subarray(0, chunk.length - (this.total - this.limit)));
      this.total = this.limit;
      this.finish(undefined, { status: this.status, headers: this.headers, body: this.body() });
      this.controller?.abort(new Error('rest of the body not read'));
      return;
    }
    (this.chunks ??= []).push(chunk);
  }

  onResponseEnd(): void {
    this.finish(undefined, { status: this.status, headers: this.headers, body: this.body() });
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    this.finish(err);
  }
}

function noop(): void {}

function flattenHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
