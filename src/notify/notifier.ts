/**
 * What every notifier is: a name, a type, send(message) and close(). Notifiers know nothing about
 * retries or the outbox; they report a failure as a NotifyError that says whether retrying can help.
 *
 * And what every notifier module is: one file under notifiers/ that owns everything about its type
 * (schema, secret and path keys, config checks, create), written with defineNotifier and listed in
 * notifiers/index.ts.
 */
import { z } from 'zod';
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

/** The keys every notifier takes. A module spreads them into its schema, before its literal `type`. */
export const notifierCommon = {
  name: z.string().min(1),
  batch: z.boolean().default(false),
  templateTitle: z.string().optional(),
  templateBody: z.string().optional(),
};

/** A notifier's schema: a strict object with the common keys, a literal `type`, and its own keys. */
export type NotifierSchema = z.ZodObject<typeof notifierCommon & { type: z.ZodLiteral<string> }, z.core.$strict>;

/** What every parsed notifier entry has, whatever its type. */
export type NotifierBaseConfig = z.output<NotifierSchema>;

/** The keys of T that have a `<key>File` twin in T. */
export type TwinnedKey<T> = { [K in keyof T & string]: `${K}File` extends keyof T ? K : never }[keyof T & string];

/** What a notifier file writes; defineNotifier turns it into a NotifierModule. */
export interface NotifierSpec<S extends NotifierSchema> {
  schema: S;
  /** Secret keys: each has a `<key>File` twin, read at load, and is redacted in every log line. */
  secretKeys: ReadonlyArray<TwinnedKey<z.input<S>>>;
  /**
   * Keys that have a `<key>File` twin but are not redacted by name: usernames, and names too common
   * to redact in every log line (`url`).
   */
  fileTwinKeys?: ReadonlyArray<TwinnedKey<z.input<S>>>;
  /** Dotted paths of file names that resolve against the config file's folder, e.g. 'tls.caFile'. */
  pathKeys?: readonly string[];
  /** Problems of the entry as a whole (a key that one of two must give), reported at the entry. */
  entryProblems?(config: z.output<S>): string[];
  /** Checks that need more than the shape (templates compile, files readable), at config load. */
  validate(config: z.output<S>): ConfigProblem[];
  create(config: z.output<S>, ctx: NotifierContext): Notifier;
}

/**
 * A notifier module as the list holds it. The methods use method syntax on purpose: TypeScript
 * checks method parameters bivariantly, so a module for one config type fits a list typed with the
 * default parameter, without casts. That is safe because the catalog hands each module only entries
 * of its own `type`, which its own schema parsed.
 */
export interface NotifierModule<S extends NotifierSchema = NotifierSchema> {
  readonly type: z.output<S>['type'];
  readonly schema: S;
  readonly secretKeys: readonly string[];
  readonly fileTwinKeys: readonly string[];
  readonly pathKeys: readonly string[];
  entryProblems(config: z.output<S>): string[];
  validate(config: z.output<S>): ConfigProblem[];
  create(config: z.output<S>, ctx: NotifierContext): Notifier;
}

export function defineNotifier<S extends NotifierSchema>(spec: NotifierSpec<S>): NotifierModule<S> {
  return {
    type: spec.schema.shape.type.value,
    schema: spec.schema,
    secretKeys: spec.secretKeys,
    fileTwinKeys: spec.fileTwinKeys ?? [],
    pathKeys: spec.pathKeys ?? [],
    entryProblems: (config) => spec.entryProblems?.(config) ?? [],
    validate: (config) => spec.validate(config),
    create: (config, ctx) => spec.create(config, ctx),
  };
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
