/**
 * The single source of the config's shape. TypeScript types come from z.infer, and
 * `herald config schema` prints z.toJSONSchema of the *input* side of this schema. A `notifiers`
 * entry's shape is its notifier module's (notify/notifiers/<type>.ts), joined into one union by
 * the list in notify/notifiers/index.ts.
 *
 * Shape only lives here. Checks that need other modules or the whole document (image references,
 * cron expressions, notifier names, duplicate names) are in validate.ts, which reports key paths
 * the loader turns into file:line positions.
 */
import { z } from 'zod';
import { duration } from '../util/schema.js';
import { defaultsSchema, imageSchema } from '../sources/image-options.js';
import { sourceSchema } from '../sources/index.js';
import { notifierCatalog, notifierSchema } from '../notify/notifiers/index.js';

/** A file given for `include` holds a YAML list of images. */
export const includeFileSchema = z.array(imageSchema);

export const registrySchema = z
  .object({
    name: z.string().min(1),
    host: z.string().min(1).describe('registry host, optionally with port and a path prefix'),
    username: z.string().optional(),
    usernameFile: z.string().optional(),
    password: z.string().optional(),
    passwordFile: z.string().optional(),
    insecure: z.boolean().default(false),
    caFile: z.string().optional(),
    timeout: duration.prefault('15s'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(256)
      .optional()
      .describe('checks in flight at once on this registry (default: watch.workers, at most 16)'),
  })
  .strict();
export type RegistryConfig = z.infer<typeof registrySchema>;

const retrySchema = z
  .object({
    attempts: z.number().int().min(1).default(10),
    minDelay: duration.prefault('30s'),
    maxDelay: duration.prefault('1h'),
  })
  .strict();

export const configSchema = z
  .object({
    db: z.object({ path: z.string().min(1).default('./data/herald.db') }).strict().prefault({}),
    watch: z
      .object({
        schedule: z.string().optional(),
        timezone: z.string().optional(),
        runOnStartup: z.boolean().default(true),
        workers: z.number().int().min(1).max(256).default(10),
        jitter: duration.prefault('30s'),
        firstCheckNotify: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    defaults: defaultsSchema.prefault({}),
    registries: z.array(registrySchema).default([]),
    images: z.array(imageSchema).default([]),
    include: z.array(z.string().min(1)).default([]),
    /** Engines and clusters whose running containers are watched too (sources/<type>.ts). */
    sources: z.array(sourceSchema).default([]),
    notifiers: z.array(notifierSchema).default([]),
    notify: z
      .object({ retry: retrySchema.prefault({}) })
      .strict()
      .prefault({}),
    server: z
      .object({
        listen: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'listen must be host:port, e.g. 127.0.0.1:8080').optional(),
        // Empty is refused, not taken as "no token": an empty secret file must not open /api.
        token: z.string().min(1).optional(),
        tokenFile: z.string().optional(),
        /** The dashboard at GET / (with listen set; unset means on); false turns it off (404). */
        ui: z.boolean().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The config after parsing: durations in ms, defaults filled in, secrets from *File read in. */
export type Config = z.infer<typeof configSchema>;

/**
 * Secret keys of the config's own sections: each has a `<key>File` twin whose content (minus one
 * trailing newline) is the value. Each notifier module names its own (see notify/notifier.ts).
 */
export const REGISTRY_SECRET_KEYS = ['username', 'password'] as const;
export const SERVER_SECRET_KEYS = ['token'] as const;

/** Every key name with a `<key>File` twin somewhere in the config. */
export const SECRET_FILE_KEYS: readonly string[] = [
  ...new Set([...REGISTRY_SECRET_KEYS, ...SERVER_SECRET_KEYS, ...notifierCatalog.fileTwinKeys]),
];

export function jsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
