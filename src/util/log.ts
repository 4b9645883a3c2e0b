import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import { lazy } from './lazy.js';
import { oneLine } from './text.js';

export type { Logger };

/**
 * Key names whose values are secrets wherever they appear in a logged object, whoever logs it.
 * Names that only some config section uses (a notifier's webhookUrl) come from the caller.
 */
const BASE_SECRET_KEYS = [
  'password', 'token', 'secret', 'authorization', 'Authorization', 'auth', 'identitytoken',
  'access_token', 'refresh_token', 'headers', 'passwordFile', 'cookie',
];

/** pino's redact takes paths, so each name is listed at the top level and up to three levels deep. */
function redactPaths(extra: readonly string[]): string[] {
  const keys = [...new Set([...BASE_SECRET_KEYS, ...extra])];
  return keys.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);
}

/** Replaces the user:password part of any URL in a string with "***". */
export function maskUrlCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+)(:[^/@\s]*)?@/gi, (_m, scheme: string) => `${scheme}***@`);
}

/** Loaded only for a terminal: JSON logs (services, pipes, files) never pay for it. */
const pinoPretty = lazy<typeof PinoPretty>('pino-pretty');

/** Whether logs are for people by default: stderr is a terminal. */
export function logsToTerminal(): boolean {
  return process.stderr.isTTY === true;
}

export interface LogOptions {
  level?: string;
  /** Human-readable output, one line per entry; default: when stderr is a TTY. */
  pretty?: boolean;
  /** Destination stream; default stderr (stdout is for command output). */
  destination?: NodeJS.WritableStream;
  /** More key names to redact, besides the generic ones (authorization, cookie, password, token…). */
  secretKeys?: readonly string[];
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.HERALD_LOG_LEVEL ?? 'info';
  const pretty = opts.pretty ?? (opts.destination === undefined && logsToTerminal());
  const base = {
    level,
    base: undefined,
    redact: { paths: redactPaths(opts.secretKeys ?? []), censor: '[redacted]' },
    hooks: {
      // The message and any string arguments: mask user:password@ in URLs there too.
      logMethod(this: Logger, args: unknown[], method: (...a: unknown[]) => void) {
        method.apply(this, args.map((a) => (typeof a === 'string' ? maskUrlCredentials(a) : a)));
      },
    },
    serializers: {
      err(err: Error) {
        const out = pino.stdSerializers.err(err);
        out.message = maskUrlCredentials(out.message);
        if (out.stack) out.stack = maskUrlCredentials(out.stack);
        return out;
      },
    },
    formatters: {
      log(obj: Record<string, unknown>) {
        // URLs and error messages can carry user:password@host; mask them wherever they are strings.
        for (const [k, v] of Object.entries(obj)) {
          if (typeof v === 'string') obj[k] = maskUrlCredentials(v);
        }
        return obj;
      },
    },
  };
  if (pretty) return pino(base, prettyStream(opts.destination));
  return pino(base, (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 2, sync: true }));
}

/**
 * Log lines for a terminal: one line per entry (time, level, message, then the fields as one JSON
 * object), formatted and written synchronously in this thread, so they interleave with stdout in
 * the order they happen. An error field is its type, message and where it was thrown, not a
 * multi-line stack (the JSON logs keep the whole stack).
 */
function prettyStream(destination: NodeJS.WritableStream | undefined): pino.DestinationStream {
  const format = pinoPretty().prettyFactory({
    colorize: destination === undefined,
    singleLine: true,
    translateTime: 'SYS:standard',
    ignore: 'pid,hostname',
    // A message with line breaks (a library's error text) stays on its line.
    messageFormat: (log, messageKey) => messageInOneLine(log[messageKey]),
    // No field is printed as a stack on lines of its own; `err` is made one line below. (pino-pretty
    // as a stream would add pino's errorKey back to this list; called as a function here, it does not.)
    errorLikeObjectKeys: [],
    customPrettifiers: { err: (value) => errorInOneLine(value) },
  });
  const out = destination ?? pino.destination({ fd: 2, sync: true });
  return { write: (line: string) => void out.write(format(line)) };
}

function messageInOneLine(message: unknown): string {
  if (typeof message !== 'string' && typeof message !== 'number' && typeof message !== 'boolean') return '';
  // Line breaks become spaces; other control characters (a terminal's escape sequences) are dropped.
  return String(message).replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g, '');
}

function errorInOneLine(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  const err = value as { type?: unknown; message?: unknown; stack?: unknown };
  const head = `${typeof err.type === 'string' ? err.type : 'Error'}: ${typeof err.message === 'string' ? err.message : ''}`;
  const frame = typeof err.stack === 'string' ? /^\s+at (.+)$/m.exec(err.stack)?.[1] : undefined;
  return oneLine(frame === undefined ? head : `${head} (at ${frame})`);
}

/** A logger that drops everything; for library use and tests that do not care. */
export const silentLogger: Logger = pino({ level: 'silent' });
