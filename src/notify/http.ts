/**
 * What the HTTP notifiers share: one keep-alive undici Agent for all of them, one request helper
 * with an overall deadline and a bounded body read, and the mapping of an answer to NotifyError
 * (2xx ok; 408, 429, 5xx and network failures retryable; other statuses permanent).
 */
import type { Agent } from 'undici';
import { lazy } from '../util/lazy.js';
import { parseRetryAfter } from '../util/http.js';
import { formatDuration } from '../util/duration.js';
import { userAgent } from '../util/version.js';
import { NotifyError, safeMessage } from './notifier.js';

// undici is loaded with the first notification, not at import (`check` imports this module to close
// the agent at exit, and most checks send nothing).
const undici = lazy<typeof import('undici')>('undici');

let agent: Agent | undefined;

function sharedAgent(): Agent {
  agent ??= new (undici().Agent)({ keepAliveTimeout: 30_000, connections: 32 });
  return agent;
}

/** Closes the shared agent (at shutdown); the next request builds a new one. */
export async function closeHttpAgent(): Promise<void> {
  const current = agent;
  agent = undefined;
  await current?.close();
}

export interface HttpPost {
  /** Prefix of error messages, e.g. "webhook hooks". */
  label: string;
  url: URL;
  method: 'POST' | 'PUT' | 'PATCH';
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  /** Values that must never appear in an error message (URL tokens, header values). */
  secrets: ReadonlyArray<string | undefined>;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The start of the response body; the rest is read and dropped so the connection is reused. */
  body: string;
}

const BODY_KEEP = 2_048;
const BODY_DRAIN_LIMIT = 256 * 1024;

/** Sends the request and reads the answer. Throws a retryable NotifyError when there is no answer. */
export async function httpSend(req: HttpPost): Promise<HttpAnswer> {
  const where = `${req.label}: ${req.method} ${maskUrl(req.url)}`;
  const signal = AbortSignal.timeout(req.timeoutMs);
  try {
    const res = await undici().request(req.url, {
      dispatcher: sharedAgent(),
      method: req.method,
      headers: { 'user-agent': userAgent(), ...lowerKeys(req.headers) },
      body: req.body,
      signal,
    });
    const chunks: Buffer[] = [];
    let kept = 0;
    let seen = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      seen += chunk.length;
      if (kept < BODY_KEEP) {
        chunks.push(chunk);
        kept += chunk.length;
      }
      if (seen > BODY_DRAIN_LIMIT) {
        res.body.destroy();
        break;
      }
    }
    return { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8').slice(0, BODY_KEEP) };
  } catch (err) {
    if (signal.aborted) throw new NotifyError(`${where}: no complete answer within ${formatDuration(req.timeoutMs)}`);
    const code = (err as { code?: unknown }).code;
    const text = err instanceof Error ? err.message : String(err);
    const detail = typeof code === 'string' && !text.includes(code) ? `${code} ${text}` : text;
    throw new NotifyError(safeMessage(`${where}: ${detail}`, [req.url.href, pathOf(req.url), ...req.secrets]));
  }
}

/** What a service's own answer says beyond its status: whether to retry, and when. */
export interface ServiceVerdict {
  /** Overrides the status rule (408, 429 and 5xx retryable, other statuses permanent). */
  retryable?: boolean;
  /** The wait the service asked for in its body (Discord's retry_after, Matrix's retry_after_ms…); wins over the Retry-After header. */
  retryAfterMs?: number;
}

/**
 * undefined for 2xx; otherwise the NotifyError for this answer. detail (e.g. Slack's error code)
 * is appended to the message after removing secrets; `verdict` is what the service's body said.
 */
export function statusError(req: HttpPost, answer: HttpAnswer, detail?: string, verdict: ServiceVerdict = {}): NotifyError | undefined {
  const { status } = answer;
  if (status >= 200 && status < 300) return undefined;
  const retryable = verdict.retryable ?? (status === 408 || status === 429 || status >= 500);
  const retryAfterMs = retryable ? (verdict.retryAfterMs ?? parseRetryAfter(headerValue(answer.headers['retry-after']))) : undefined;
  const suffix = detail !== undefined && detail.trim() !== '' ? `: ${detail}` : '';
  const message = safeMessage(`${req.label}: ${req.method} ${maskUrl(req.url)} answered ${status}${suffix}`, [
    req.url.href,
    pathOf(req.url),
    ...req.secrets,
  ]);
  return new NotifyError(message, { permanent: !retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}


/** A URL as error messages show it: the origin only, with "/…" when a path or query was cut off. */
export function maskUrl(url: URL): string {
  return url.pathname === '/' && url.search === '' ? url.origin : `${url.origin}/…`;
}

function pathOf(url: URL): string | undefined {
  const rest = url.pathname + url.search;
  return rest.length > 1 ? rest : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function lowerKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

