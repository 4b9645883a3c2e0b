/**
 * `herald health`: asks a running `herald serve` for GET /healthz and exits 0 when it answers 200
 * (status ok or starting), 1 otherwise. The address comes from server.listen in the config (an
 * any-address listen such as 0.0.0.0 is asked on loopback), or from --url. This is the container
 * image's HEALTHCHECK: node is there anyway, curl is not.
 */
import { UserError, errorMessage } from '../util/errors.js';
import { parseListen } from '../server/http.js';
import { loadFromOptions, print, type CommandOptions } from './context.js';

const TIMEOUT_MS = 4_000;

export interface HealthOptions extends CommandOptions {
  url?: string;
}

export async function health(opts: HealthOptions): Promise<number> {
  const url = opts.url ?? healthUrl((await loadFromOptions(opts)).config.server.listen);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (cause ?? errorMessage(err));
    process.stderr.write(`herald: ${url}: ${why}\n`);
    return 1;
  }
  const body = await res.text();
  print(body.trim() === '' ? `HTTP ${res.status}` : body);
  return res.status === 200 ? 0 : 1;
}

export function healthUrl(listen: string | undefined): string {
  if (listen === undefined) throw new UserError('server.listen is not set, so there is no health endpoint to ask (set it, or pass --url)', 1);
  const { host, port } = parseListen(listen);
  const target = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `http://${target}:${port}/healthz`;
}
