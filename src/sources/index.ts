/**
 * The one list of source types. Adding a source: write sources/<type>.ts with defineSource, add it
 * here. The config's `sources:` union and the creation of each entry's source come from this list.
 * (The config's own `images:` and include files are the file source, config/images.ts.)
 */
import { z } from 'zod';
import { dockerSource } from './docker.js';
import { kubernetesSource } from './kubernetes.js';
import type { ImageSource, SourceContext } from './source.js';

export const sourceModules = [dockerSource, kubernetesSource] as const;

type Schemas<M extends readonly { schema: unknown }[]> = { -readonly [K in keyof M]: M[K]['schema'] };
// map() types its result as an array, not a tuple; it holds each module's schema in list order.
const schemas = sourceModules.map((module) => module.schema) as Schemas<typeof sourceModules>;

/** A `sources:` entry: the union of the modules' schemas, discriminated by `type`. */
export const sourceSchema = z.discriminatedUnion('type', schemas);
export type SourceConfig = z.output<typeof sourceSchema>;

export function createSource(config: SourceConfig, ctx: SourceContext): ImageSource {
  const module = sourceModules.find((m) => m.type === config.type);
  if (module === undefined) throw new Error(`no source module for type "${config.type}"`);
  return (module.create as (c: SourceConfig, x: SourceContext) => ImageSource)(config, ctx);
}
