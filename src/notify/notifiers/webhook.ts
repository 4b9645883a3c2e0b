/**
 * Webhook: the events as JSON, {"version":1,"events":[…]}, with the delivery id in a header that
 * stays the same across retries, and an HMAC-SHA256 signature of the exact body bytes when a secret
 * is configured.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { duration, httpUrl } from '../../util/schema.js';
import { httpSend, statusError } from '../http.js';
import { NotifyError, defineNotifier, notifierCommon, type ConfigProblem, type Notifier } from '../notifier.js';

export const webhookSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('webhook'),
    url: httpUrl.optional(),
    urlFile: z.string().optional(),
    method: z.enum(['POST', 'PUT', 'PATCH']).default('POST'),
    headers: z.record(z.string(), z.string()).default({}),
    secret: z.string().optional(),
    secretFile: z.string().optional(),
    timeout: duration.prefault('10s'),
  })
  .strict();

export const webhookModule = defineNotifier({
  schema: webhookSchema,
  secretKeys: ['secret'],
  // The URL may hold a token, hence urlFile. It is not redacted by name: log lines call every
  // request URL `url` (registry requests, with credentials masked), and this notifier's own
  // messages show the URL's origin only.
  fileTwinKeys: ['url'],

  entryProblems(config) {
    return config.url === undefined && config.urlFile === undefined ? ['a webhook notifier needs url or urlFile'] : [];
  },

  validate(config): ConfigProblem[] {
    // The body is always the events as JSON; a template here would silently do nothing.
    return (['templateTitle', 'templateBody'] as const)
      .filter((key) => config[key] !== undefined)
      .map((key) => ({ key, message: 'webhook notifiers send the events as JSON; templates are not used' }));
  },

  create(config): Notifier {
    const label = `webhook ${config.name}`;
    const url = config.url === undefined ? undefined : new URL(config.url);
    const secrets = [config.secret, ...Object.values(config.headers)];

    return {
      name: config.name,
      type: 'webhook',
      async send(msg) {
        if (url === undefined) throw new NotifyError(`${label}: no url configured`, { permanent: true });
        const body = JSON.stringify({ version: 1, events: msg.events });
        const headers: Record<string, string> = {
          ...config.headers,
          'Content-Type': 'application/json',
          'X-Herald-Delivery': msg.deliveryId,
          'X-Herald-Event': msg.events.length === 1 ? (msg.events[0]?.status ?? 'batch') : 'batch',
        };
        if (config.secret !== undefined) {
          const hmac = createHmac('sha256', config.secret).update(body, 'utf8').digest('hex');
          headers['X-Herald-Signature'] = `sha256=${hmac}`;
        }
        const req = { label, url, method: config.method, headers, body, timeoutMs: config.timeout, secrets };
        const error = statusError(req, await httpSend(req));
        if (error !== undefined) throw error;
      },
      async close() {
        // The HTTP agent is shared by every HTTP notifier and outlives any one of them.
      },
    };
  },
});
