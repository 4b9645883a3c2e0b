/**
 * GET requests to a Kubernetes API server with undici: one keep-alive Agent per source, built again
 * only when the TLS material changes (a rotated client certificate, another server), an overall
 * deadline per request, a bounded body, and every failure as one line a user can act on. The API
 * server's own words (the Status body's `message`) are kept: "pods is forbidden: User … cannot list
 * resource "pods" …" says exactly which permission is missing.
 */
import { readBounded, type BodyStream } from '../util/http.js';
import { STATUS_CODES } from 'node:http';
import type { Agent, Dispatcher } from 'undici';
import { formatDuration } from '../util/duration.js';
import { lazy } from '../util/lazy.js';
import { isPlainObject, oneLine } from '../util/text.js';
import { userAgent } from '../util/version.js';
import { KubeProblem } from './kubeconfig.js';
import type { ClusterAccess } from './kubernetes-access.js';

// Loaded with the first listing, not at import: `config validate` and a config without a
// Kubernetes source never pay for it.
const undici = lazy<typeof import('undici')>('undici');

/** A page of 500 pods is a few MB; far more than this is not a pod list. */
const MAX_BODY_BYTES = 128 * 1024 * 1024;
const ERROR_BODY_BYTES = 64 * 1024;

export class KubernetesApi {
  private agent: Agent | undefined;
  private agentKey = '';

  constructor(private readonly timeoutMs: number) {}

  /** The JSON body of a 200 answer; anything else throws KubeProblem (with `status` when the server answered). */
  async getJson(access: ClusterAccess, apiPath: string, query: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
    const url = new URL(access.server.href.replace(/\/+$/, '') + apiPath);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    // One more attempt only when a kept-alive connection turns out closed: runs are hours apart.
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.getOnce(access, url, signal);
      } catch (err) {
        if (attempt === 0 && !(err instanceof KubeProblem) && socketClosed(err) && signal?.aborted !== true) continue;
        throw err instanceof KubeProblem ? err : networkProblem(err, access.server, this.timeoutMs, signal);
      }
    }
  }

  private async getOnce(access: ClusterAccess, url: URL, signal: AbortSignal | undefined): Promise<unknown> {
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException('deadline', 'TimeoutError')), this.timeoutMs);
    const stop = (): void => deadline.abort(signal?.reason);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const res = await undici().request(url, {
        method: 'GET',
        dispatcher: this.dispatcher(access),
        headers: {
          accept: 'application/json',
          'user-agent': userAgent(),
          ...(access.authorization !== undefined ? { authorization: access.authorization } : {}),
        },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: deadline.signal,
      });
      const ok = res.statusCode === 200;
      const body = await readBody(res.body, ok ? MAX_BODY_BYTES : ERROR_BODY_BYTES, !ok);
      if (!ok) throw statusProblem(res.statusCode, body);
      try {
        return JSON.parse(body.toString('utf8')) as unknown;
      } catch {
        throw new KubeProblem(`the answer of ${access.server.origin} is not JSON (is server the Kubernetes API?)`);
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
  }

  private dispatcher(access: ClusterAccess): Dispatcher {
    const { tls } = access;
    const key = JSON.stringify([access.server.origin, tls.ca, tls.cert, tls.key, tls.insecure, tls.servername]);
    if (this.agent !== undefined && key === this.agentKey) return this.agent;
    void this.agent?.close().catch(() => undefined);
    this.agent = new (undici().Agent)({
      keepAliveTimeout: 30_000,
      connections: 2,
      connect: {
        timeout: this.timeoutMs,
        rejectUnauthorized: !tls.insecure,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        ...(tls.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
      },
    });
    this.agentKey = key;
    return this.agent;
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    await agent?.close().catch(() => undefined);
  }
}

async function readBody(body: Dispatcher.ResponseData['body'], limit: number, truncate: boolean): Promise<Buffer> {
  const data = await readBounded(body as BodyStream, limit, truncate);
  if (data === undefined) throw new KubeProblem(`the answer is larger than ${limit / 1024 / 1024} MB`);
  return data;
}

/** The API server's answer other than 200: its Status body's message, in one line. */
function statusProblem(status: number, body: Buffer): KubeProblem {
  let message: string | undefined;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (isPlainObject(parsed) && typeof parsed.message === 'string' && parsed.message.trim() !== '') message = oneLine(parsed.message, 300);
  } catch {
    // not a Status: a proxy's page, say; the status line alone is said
  }
  const line = `${status} ${STATUS_CODES[status] ?? 'error'}`;
  const detail = message !== undefined && message.toLowerCase() !== (STATUS_CODES[status] ?? '').toLowerCase() ? `: ${message}` : '';
  if (status === 401) return new KubeProblem(`the cluster refused the credentials (${line})${detail}`, status);
  if (status === 403) return new KubeProblem(`the cluster denied the listing (${line})${detail}`, status);
  return new KubeProblem(`the cluster answered ${line}${detail}`, status);
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
}

function socketClosed(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED';
}

const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

/** A failure with no answer, as one line naming the server (never the path: it is always the same). */
function networkProblem(err: unknown, server: URL, timeoutMs: number, signal: AbortSignal | undefined): KubeProblem {
  const at = server.origin;
  const code = errorCode(err);
  const name = (err as { name?: unknown }).name;
  if (signal?.aborted === true) return new KubeProblem('listing stopped');
  if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') {
    return new KubeProblem(`the cluster at ${at} did not answer within ${formatDuration(timeoutMs)}`);
  }
  if (code === 'ECONNREFUSED') return new KubeProblem(`cannot reach the cluster at ${at}: connection refused`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new KubeProblem(`cannot reach the cluster at ${at}: host not found`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return new KubeProblem(`cannot reach the cluster at ${at}: host unreachable`);
  if (code !== undefined && UNTRUSTED.has(code)) return new KubeProblem(`the TLS certificate of ${at} is not trusted (${code}): the kubeconfig's certificate-authority (or the service account's ca.crt) must be the cluster's CA`);
  if (code === 'CERT_HAS_EXPIRED') return new KubeProblem(`the TLS certificate of ${at} has expired`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return new KubeProblem(`the TLS certificate of ${at} does not name ${server.hostname} (set tls-server-name in the kubeconfig to the name it has)`);
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_OSSL_') || code === 'EPROTO')) return new KubeProblem(`TLS with ${at} failed (${code})`);
  if (socketClosed(err)) return new KubeProblem(`the cluster at ${at} closed the connection`);
  const message = err instanceof Error ? err.message : String(err);
  return new KubeProblem(`request to ${at} failed: ${oneLine(code !== undefined && !message.includes(code) ? `${code} ${message}` : message, 200)}`);
}
