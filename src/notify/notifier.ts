/**
 * What every notifier is: a name, a type, send(message) and close(). Notifiers know nothing about
 * retries or the outbox; they report a failure as a NotifyError that says whether retrying can help.
 */
import type { NotifierConfig } from '../config/schema.js';
import type { Logger } from '../util/log.js';
import type { HeraldEvent } from '../model/event.js';

export interface NotifierMessage {
  /** Stable across retries of one delivery; receivers may use it to drop duplicates. */
  deliveryId: string;
  /** One event, or a run's events for batch notifiers. Never empty. */
  events: HeraldEvent[];
}

export interface Notifier {
  readonly name: string;
  readonly type: string;
  send(msg: NotifierMessage): Promise<void>;
  close(): Promise<void>;
}

/**
 * A failed send. permanent: do not retry (4xx other than 408/429, bad recipient, auth rejected…).
 * retryAfterMs comes from Retry-After when the receiver sent one. The message is one line without
 * secrets (URLs masked to their origin, no passwords).
 */
export class NotifyError extends Error {
  readonly permanent: boolean;
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { permanent?: boolean; retryAfterMs?: number } = {}) {
    super(message);
    this.name = 'NotifyError';
    this.permanent = opts.permanent ?? false;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

export interface NotifierContext {
  logger: Logger;
}

export interface ConfigProblem {
  /** Relative to the notifier, e.g. 'templateBody' or 'tls.caFile'. */
  key: string;
  message: string;
}

export interface NotifierModule<C extends NotifierConfig = NotifierConfig> {
  type: C['type'];
  /** Compile templates etc. at config load time; problems are reported with their key. */
  check(config: C): ConfigProblem[];
  create(config: C, ctx: NotifierContext): Notifier;
}

const MAX_MESSAGE = 300;

/**
 * Turns any text (a library's error message, a response snippet) into one line fit for a
 * NotifyError: secrets replaced by ***, whitespace collapsed, length capped.
 */
export function safeMessage(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 4) continue;
    out = out.split(secret).join('***');
  }
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE - 1)}…` : out;
}
