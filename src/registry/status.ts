/** Registry error responses as one-line RegistryErrors. */
import { RegistryError } from '../util/errors.js';
import type { HttpResponse } from './http.js';
import { oneLine } from '../util/text.js';
import { parseRetryAfter } from '../util/http.js';
import { formatDuration } from '../util/duration.js';

/** A registry's error body ({"errors":[{"code","message"}]}) as a short phrase. */
function registryErrorText(res: HttpResponse): string | undefined {
  const type = res.headers['content-type'] ?? '';
  if (res.body.length === 0 || !/json/i.test(type)) return undefined;
  try {
    const doc = JSON.parse(res.body.toString('utf8')) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(doc.errors) ? doc.errors[0] : undefined;
    if (!first) return undefined;
    if (typeof first.message === 'string' && first.message.length > 0) return oneLine(first.message, 120);
    if (typeof first.code === 'string') return first.code.toLowerCase().replace(/_/g, ' ');
  } catch {
    // not the OCI error shape
  }
  return undefined;
}

export function statusError(subject: string, res: HttpResponse, what: 'manifest' | 'blob' | 'tags' | 'token' | 'ping'): RegistryError {
  const status = res.status;
  const text = registryErrorText(res);
  if (status === 429) {
    const retryAfter = parseRetryAfter(res.headers['retry-after']);
    const after = retryAfter !== undefined ? `, retry after ${formatDuration(retryAfter)}` : '';
    const opts: { status: number; retryable: boolean; retryAfterMs?: number } = { status, retryable: true };
    if (retryAfter !== undefined) opts.retryAfterMs = retryAfter;
    return new RegistryError(`${subject}: rate limited (429)${after}`, opts);
  }
  if (status === 404) {
    const fallback = what === 'manifest' ? 'manifest unknown' : what === 'blob' ? 'blob unknown' : what === 'tags' ? 'repository unknown' : 'not found';
    return new RegistryError(`${subject}: ${text ?? fallback} (404)`, { status });
  }
  if (status === 403) return new RegistryError(`${subject}: denied (403)${text ? `: ${text}` : ''}`, { status });
  if (status >= 500) {
    return new RegistryError(`${subject}: ${text ?? 'server error'} (${status})`, { status, retryable: true });
  }
  return new RegistryError(`${subject}: unexpected response ${status}${text ? `: ${text}` : ''}`, { status });
}
