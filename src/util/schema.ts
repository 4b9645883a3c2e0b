/**
 * zod field types used both by the config's own sections and by the notifier modules, which must
 * not import config/: durations and http(s) URLs.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { errorMessage } from './errors.js';

/** "30s", "5m", "1h30m", "250ms", or a number of seconds. Parsed to milliseconds. */
export const duration = z
  .union([z.string(), z.number()])
  .describe('duration: 30s, 5m, 1h30m, 250ms, or seconds as a number')
  .transform((value, ctx) => {
    try {
      return parseDuration(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) });
      return z.NEVER;
    }
  });

/**
 * Where notifications are sent: http or https only, so a wrong scheme fails at load, not on every
 * delivery. (Not a URL at all is url()'s one problem, not two.)
 */
export const httpUrl = z
  .string()
  .url()
  .refine((s) => !URL.canParse(s) || /^https?:\/\//i.test(s), 'must be an http:// or https:// URL');
