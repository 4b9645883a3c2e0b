/**
 * What a source is: something that lists the images to watch, with the containers that run them.
 * The config's `images:` and include files are the file source (config/images.ts); `sources:` adds
 * engines and clusters, each a module in sources/<type>.ts listed in sources/index.ts.
 *
 * A source that cannot list (engine down, credentials refused) throws a SourceError: one line
 * naming the source. The run goes on with the other sources, and the failed source's images keep
 * their state: nothing is pruned, dropped or notified again when it comes back.
 */
import type { z } from 'zod';
import type { Logger } from '../util/log.js';
import { UserError } from '../util/errors.js';
import type { WatchedImage } from '../model/image.js';
import type { DefaultsConfig } from './image-options.js';

/** The name the config's own images (images: and include files) go by; no `sources:` entry may take it. */
export const FILE_SOURCE = 'config';

/** A source that could not list what runs: its message names the source and says why, in one line. */
export class SourceError extends UserError {
  constructor(message: string) {
    super(message, 1);
    this.name = 'SourceError';
  }
}

/** A container the source lists but herald cannot follow, with the reason (created from a digest or an image id). */
export interface UnwatchedContainer {
  container: string;
  image: string;
  reason: string;
}

export interface SourceListing {
  /**
   * One entry per (image reference, platform), with every container of this source that runs it.
   * An image whose containers carry a bad label has `problem` set.
   */
  images: WatchedImage[];
  unwatched: UnwatchedContainer[];
}

export interface ListContext {
  /** The config's `defaults`: labels override them, as an image entry's keys do. */
  defaults: DefaultsConfig;
  /** Names of the configured notifiers: a label naming another one is a bad label. */
  notifierNames: readonly string[];
  signal?: AbortSignal;
}

export interface ImageSource {
  readonly name: string;
  readonly type: string;
  /** Lists what runs now. Throws SourceError when the engine or cluster cannot be listed. */
  list(ctx: ListContext): Promise<SourceListing>;
  /** Closes connections; the source is not used again. */
  close(): Promise<void>;
}

export interface SourceContext {
  logger: Logger;
  /** The config file's folder: relative paths in the entry (caFile, kubeconfig) resolve against it. */
  dir: string;
}

/** Every `sources:` entry has these keys besides its own. */
export interface SourceBaseConfig {
  name: string;
  type: string;
}

export interface SourceModule<S extends z.ZodType<SourceBaseConfig> = z.ZodType<SourceBaseConfig>> {
  readonly type: string;
  /** The entry's shape, a strict zod object with a literal `type`. */
  readonly schema: S;
  /** Creates the source; no engine is called here (`config validate` must never reach one). */
  create(config: z.output<S>, ctx: SourceContext): ImageSource;
}

/** A source module; `type` is read from the schema's literal so the two cannot disagree. */
export function defineSource<S extends z.ZodObject<{ type: z.ZodLiteral<string>; name: z.ZodString }>>(spec: {
  schema: S;
  create(config: z.output<S>, ctx: SourceContext): ImageSource;
}): SourceModule<S> {
  const type = spec.schema.shape.type.value as string;
  return { type, schema: spec.schema, create: spec.create };
}
