/**
 * Everything herald derives from the list of notifier modules: the config's discriminated union of
 * their schemas, the key names to redact in logs, the keys with `<key>File` twins, and lookups by
 * `type` for one entry (checks, secret and path keys, create). It is a function of the list so that
 * nothing outside notifiers/<type>.ts and the list names a notifier type, and so a test can build a
 * catalog with a module of its own.
 */
import path from 'node:path';
import { z } from 'zod';
import { isPlainObject } from '../util/text.js';
import type { ConfigProblem, Notifier, NotifierBaseConfig, NotifierContext, NotifierModule } from './notifier.js';

type ModuleList = readonly [NotifierModule, ...NotifierModule[]];

/** The modules' schemas, as a tuple in list order: the discriminated union keeps each member's type. */
type SchemasOf<M extends ModuleList> = { -readonly [K in keyof M]: M[K]['schema'] };

export function catalogOf<const M extends ModuleList>(modules: M) {
  const byType = new Map<string, NotifierModule>();
  for (const module of modules) {
    if (byType.has(module.type)) throw new Error(`two notifier modules have type "${module.type}"`);
    byType.set(module.type, module);
  }
  // Array.prototype.map types its result as an array, not a tuple; the elements are each module's
  // schema in list order, which is what SchemasOf states.
  const schemas = modules.map((module) => module.schema) as SchemasOf<M>;
  const schema = z.discriminatedUnion('type', schemas);

  /** The entry was parsed by `schema`, so its type is one of the list's. */
  function moduleOf(config: NotifierBaseConfig): NotifierModule {
    const module = byType.get(config.type);
    if (module === undefined) throw new Error(`no notifier module for type "${config.type}"`);
    return module;
  }

  return {
    modules,
    /** The union of the modules' schemas, discriminated by `type`, in list order. */
    schema,
    /** Key names whose values are redacted in every log line. */
    redactKeys: unique(modules.flatMap((m) => m.secretKeys)),
    /** Every key name that has a `<key>File` twin in some notifier. */
    fileTwinKeys: unique(modules.flatMap((m) => [...m.secretKeys, ...m.fileTwinKeys])),

    /** The keys of this entry that have a `<key>File` twin. */
    twinKeysOf(config: NotifierBaseConfig): readonly string[] {
      const module = moduleOf(config);
      return [...module.secretKeys, ...module.fileTwinKeys];
    },
    entryProblems(config: NotifierBaseConfig): string[] {
      return moduleOf(config).entryProblems(config);
    },
    validate(config: NotifierBaseConfig): ConfigProblem[] {
      return moduleOf(config).validate(config);
    },
    create(config: NotifierBaseConfig, ctx: NotifierContext): Notifier {
      return moduleOf(config).create(config, ctx);
    },
    /** Makes the entry's file-path keys absolute, relative to `dir` (the config file's folder). */
    resolvePaths(config: NotifierBaseConfig, dir: string): void {
      for (const key of moduleOf(config).pathKeys) {
        const segments = key.split('.');
        const last = segments.pop()!;
        let holder: unknown = config;
        for (const segment of segments) holder = isPlainObject(holder) ? holder[segment] : undefined;
        if (isPlainObject(holder) && typeof holder[last] === 'string') holder[last] = path.resolve(dir, holder[last]);
      }
    },
  };
}

export type NotifierCatalog = ReturnType<typeof catalogOf>;

function unique(keys: readonly string[]): string[] {
  return [...new Set(keys)];
}

