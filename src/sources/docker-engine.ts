/**
 * The HTTP side of the Docker source: where the engine is (unix socket, tcp, https with client
 * certificates), one undici dispatcher for it, and GETs whose every failure is one line naming the
 * source. No Docker SDK: the source reads two endpoints, and undici is already herald's client.
 */
import { readBounded, type BodyStream } from '../util/http.js';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { formatDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';
import { fsReason } from '../util/fs.js';
import { lazy } from '../util/lazy.js';
import { maskUrlCredentials } from '../util/log.js';
import { oneLine } from '../util/text.js';
import { userAgent } from '../util/version.js';
import { SourceError } from './source.js';

// Loaded on the first listing, not at import: `config validate` must not pay for it.
const undici = lazy<typeof import('undici')>('undici');

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
/** A listing of thousands of containers is a few MB; anything far beyond is not an engine answering. */
const MAX_BODY = 64 * 1024 * 1024;

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface Endpoint {
  /** As the user wrote it (credentials masked): messages name it. */
  display: string;
  /** What undici sends to: `http://localhost` for a socket. */
  origin: string;
  socketPath?: string;
  tls?: TlsFiles;
  /** Basic credentials from `https://user:pass@host` (a proxy in front of the engine). */
  authorization?: string;
}

/**
 * config.endpoint, else $DOCKER_HOST, else the default socket. Like the Docker CLI, $DOCKER_HOST
 * with $DOCKER_TLS_VERIFY set uses ca.pem, cert.pem and key.pem from $DOCKER_CERT_PATH (~/.docker).
 * `tls` applies to tcp:// and https://; a socket has no TLS, so it is ignored there.
 */
export function resolveEndpoint(configured: string | undefined, tls: TlsFiles | undefined, dir: string, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const fromEnv = configured === undefined && env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '';
  const text = configured ?? (fromEnv ? env.DOCKER_HOST! : DEFAULT_DOCKER_HOST);
  const display = maskUrlCredentials(text);
  if (text.startsWith('unix://')) {
    const socketPath = text.slice('unix://'.length);
    return { display, origin: 'http://localhost', socketPath };
  }
  let files = tls === undefined ? undefined : resolveFiles(tls, dir);
  if (files === undefined && fromEnv && (env.DOCKER_TLS_VERIFY ?? '') !== '') {
    const certPath = env.DOCKER_CERT_PATH || resolve(homedir(), '.docker');
    files = { caFile: resolve(certPath, 'ca.pem'), certFile: resolve(certPath, 'cert.pem'), keyFile: resolve(certPath, 'key.pem') };
  }
  const where = fromEnv ? `$DOCKER_HOST ${display}` : `endpoint ${display}`;
  let url: URL;
  try {
    url = new URL(text.startsWith('tcp://') ? `${files !== undefined ? 'https' : 'http'}://${text.slice('tcp://'.length)}` : text);
  } catch {
    throw new SourceError(`${where} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SourceError(`${where}: use unix://, tcp://, http:// or https://`);
  // Docker's own defaults for tcp:// without a port: 2375 plain, 2376 with TLS.
  if (text.startsWith('tcp://') && url.port === '') url.port = files !== undefined ? '2376' : '2375';
  const authorization = url.username !== '' ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
  return {
    display,
    origin: url.origin,
    ...(url.protocol === 'https:' && files !== undefined ? { tls: files } : {}),
    ...(authorization !== undefined ? { authorization } : {}),
  };
}

function resolveFiles(tls: TlsFiles, dir: string): TlsFiles {
  const at = (file: string | undefined) => (file === undefined ? undefined : resolve(dir, file.startsWith('~/') ? resolve(homedir(), file.slice(2)) : file));
  const out: TlsFiles = {};
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const file = at(tls[key]);
    if (file !== undefined) out[key] = file;
  }
  return out;
}

export interface EngineResponse {
  status: number;
  /** Parsed JSON of a 2xx answer; undefined otherwise. */
  json: unknown;
}

export class EngineClient {
  private dispatcher: Dispatcher | undefined;
  private closed = false;

  constructor(
    /** `source NAME`: the start of every message. */
    private readonly subject: string,
    readonly endpoint: Endpoint,
    private readonly timeoutMs: number,
  ) {}

  /**
   * GETs `path`. A 2xx answer must be JSON; `okStatuses` lists other statuses the caller handles
   * itself (404 of an image removed since the listing). Anything else throws a SourceError.
   */
  async get(path: string, okStatuses: readonly number[] = [], signal?: AbortSignal): Promise<EngineResponse> {
    if (this.closed) throw new SourceError(`${this.subject}: the source is closed`);
    const what = `GET ${path.split('?')[0]}`;
    const dispatcher = this.dispatcherNow();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({
        origin: this.endpoint.origin,
        path,
        method: 'GET',
        headers: { 'user-agent': userAgent(), accept: 'application/json', ...(this.endpoint.authorization !== undefined ? { authorization: this.endpoint.authorization } : {}) },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      });
    } catch (err) {
      if (signal?.aborted === true) throw new SourceError(`${this.subject}: listing stopped: the run was cancelled`);
      throw new SourceError(`${this.subject}: cannot reach the Docker engine at ${this.endpoint.display}: ${this.unreachable(err, timeout.aborted)}`);
    }
    let text: string;
    try {
      text = await readText(res.body);
    } catch (err) {
      throw new SourceError(`${this.subject}: the Docker engine at ${this.endpoint.display} broke off its answer to ${what}: ${this.unreachable(err, timeout.aborted)}`);
    }
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      try {
        return { status, json: JSON.parse(text) as unknown };
      } catch {
        throw new SourceError(`${this.subject}: ${this.endpoint.display} answered ${what} with something that is not JSON (is it a Docker engine?)`);
      }
    }
    if (okStatuses.includes(status)) return { status, json: undefined };
    const said = engineMessage(text);
    if (status === 401 || status === 403) {
      // 401: a proxy in front of the engine wants credentials; 403: a socket proxy (or an engine
      // authorization plugin) does not allow this endpoint.
      const hint = status === 401 ? 'check the credentials in the endpoint URL' : 'a socket proxy must allow containers and images';
      throw new SourceError(`${this.subject}: the Docker engine at ${this.endpoint.display} refused ${what} (HTTP ${status}${said}); ${hint}`);
    }
    throw new SourceError(`${this.subject}: the Docker engine at ${this.endpoint.display} answered ${what} with HTTP ${status}${said}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    await dispatcher?.close().catch(() => undefined);
  }

  /** Built on the first request, so a bad certificate file is a listing error, retried next run. */
  private dispatcherNow(): Dispatcher {
    if (this.dispatcher !== undefined) return this.dispatcher;
    const { socketPath, tls } = this.endpoint;
    this.dispatcher = new (undici().Agent)({
      keepAliveTimeout: 10_000,
      connect: {
        timeout: this.timeoutMs,
        ...(socketPath !== undefined ? { socketPath } : {}),
        ...(tls !== undefined ? this.tlsOptions(tls) : {}),
        rejectUnauthorized: true,
      },
    });
    return this.dispatcher;
  }

  /**
   * As with `docker --tlsverify --tlscacert`: the CA file is the one authority for the engine's
   * certificate (engines use their own CA); without one, the system's roots apply.
   */
  private tlsOptions(tls: TlsFiles): { ca?: string; cert?: string; key?: string } {
    const read = (key: keyof TlsFiles): string | undefined => {
      const file = tls[key];
      if (file === undefined) return undefined;
      try {
        return readFileSync(file, 'utf8');
      } catch (err) {
        throw new SourceError(`${this.subject}: cannot read tls.${key} ${file}: ${fsReason(err)}`);
      }
    };
    if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
      throw new SourceError(`${this.subject}: tls needs both certFile and keyFile for a client certificate`);
    }
    const ca = read('caFile');
    const cert = read('certFile');
    const key = read('keyFile');
    return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
  }

  /** Why the engine could not be reached, in words: "no such socket", "connection refused". */
  private unreachable(err: unknown, timedOut: boolean): string {
    const e = err as { name?: string; code?: unknown; message?: string; cause?: { code?: unknown; message?: string } };
    const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
    const socket = this.endpoint.socketPath !== undefined;
    if (timedOut || e.name === 'TimeoutError' || (code !== undefined && /TIMEOUT|ETIMEDOUT/.test(code))) return `no answer within ${formatDuration(this.timeoutMs)}`;
    switch (code) {
      case 'ENOENT':
        return 'no such socket';
      case 'ECONNREFUSED':
        return socket ? 'nothing listens on the socket' : 'connection refused';
      case 'EACCES':
      case 'EPERM':
        return 'permission denied on the socket (herald needs read access to it, e.g. the docker group)';
      case 'ENOTSOCK':
        return 'not a socket';
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return 'host not found';
      case 'ECONNRESET':
      case 'EPIPE':
      case 'UND_ERR_SOCKET':
      case 'UND_ERR_CLOSED':
        // Over TLS 1.3 a refused client certificate shows as just this: the engine hangs up.
        return this.endpoint.origin.startsWith('https:')
          ? 'the connection was closed (an engine that wants a client certificate closes it on a missing or unknown one: check tls.certFile and tls.keyFile)'
          : 'the connection was closed';
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return 'host unreachable';
      case 'CERT_HAS_EXPIRED':
        return 'its TLS certificate has expired';
      case 'ERR_TLS_CERT_ALTNAME_INVALID':
        return "its TLS certificate does not name this host";
      default:
        break;
    }
    if (code !== undefined && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code)) return `its TLS certificate is not trusted (${code}); set tls.caFile`;
    if (code !== undefined && (code === 'EPROTO' || code.startsWith('ERR_SSL_'))) return `the TLS handshake failed (${code})`;
    const message = e.cause?.message ?? e.message ?? errorMessage(err);
    // A TLS alert from the engine (no or wrong client certificate) arrives as a message only.
    if (/alert|certificate/i.test(message)) return `the TLS handshake failed: ${oneLine(message, 160)}`;
    return oneLine(maskUrlCredentials(message), 200);
  }
}

async function readText(body: Dispatcher.ResponseData['body']): Promise<string> {
  const data = await readBounded(body as BodyStream, MAX_BODY);
  if (data === undefined) throw new Error(`answer larger than ${MAX_BODY / 1024 / 1024} MB`);
  return data.toString('utf8');
}

/** The engine's own words from an error body (`{"message": …}`), as `: words`, or nothing. */
function engineMessage(text: string): string {
  let said = text;
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') said = parsed.message;
  } catch {
    // not JSON: the text itself, if short
  }
  const line = oneLine(maskUrlCredentials(said), 200);
  return line === '' ? '' : `: ${line}`;
}
