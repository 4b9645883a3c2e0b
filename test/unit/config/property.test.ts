/**
 * Whatever a user (or a broken editor) puts in the config file or the environment, loading it ends
 * in a config or in a ConfigError with one line per problem: never a crash with a stack trace.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveImages } from '../../../src/config/images.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/util/errors.js';

let dir: string;
let counter = 0;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'herald-config-prop-'));
  mkdirSync(path.join(dir, 'images.d'));
  writeFileSync(path.join(dir, 'images.d', 'a.yml'), '- name: nginx\n');
  writeFileSync(path.join(dir, 'secret'), 'value\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads text as a config; returns 'ok' or the ConfigError, and rethrows anything else. */
async function outcome(text: string, env: NodeJS.ProcessEnv = {}): Promise<'ok' | ConfigError> {
  const file = path.join(dir, `config-${counter++}.yml`);
  writeFileSync(file, text);
  try {
    await resolveImages(await loadConfig(file, env));
    return 'ok';
  } catch (err) {
    if (err instanceof ConfigError) {
      expect(err.message).not.toMatch(/\n/);
      expect(err.message.length).toBeGreaterThan(0);
      return err;
    }
    throw err;
  }
}

const yamlToken = fc.constantFrom(
  'watch', 'images', 'notifiers', 'registries', 'defaults', 'include', 'server', 'db', 'name', 'type', 'url', 'metadata',
  'schedule', 'workers', 'jitter', 'platform', 'passwordFile', 'mail', 'webhook', 'slack', 'nginx', 'Nginx', '0', '-1', '1.5',
  'true', 'yes', 'null', '~', ':', ': ', ' ', '  ', '\n', '\n  ', '\n    ', '- ', '-', '[', ']', '{', '}', ',', '"', "'", '#',
  '&a ', '*a', '<<: ', '!!str ', '!!binary ', '!custom ', '---', '...', '|', '>', '\t', '%YAML 1.2\n', '? ', '@', '`', '\\',
);
const yamlish = fc.oneof(
  fc.array(yamlToken, { maxLength: 40 }).map((tokens) => tokens.join('')),
  fc.string({ maxLength: 200 }),
);

const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('30s', '0 * * * *', 'linux/amd64', 'nginx:1.27', 'https://x.example', 'secret'));
const maybe = <T,>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> => fc.oneof(arb, anyValue);
const image = fc.record(
  {
    name: maybe(fc.constantFrom('nginx', 'Nginx', 'ghcr.io/acme/api:1.4.2', 'nginx:1.27', 'localhost:5000/a', '')),
    platform: maybe(fc.constantFrom('linux/amd64', 'linux/arm64/v8', 'amd64')),
    notifyOn: maybe(fc.array(fc.constantFrom('new', 'update', 'error', 'x'))),
    notifiers: maybe(fc.array(fc.constantFrom('hooks', 'chat', 'nope'))),
    metadata: anyValue,
    includeTags: maybe(fc.array(fc.constantFrom('^v\\d+', '(', '[a-', '.*'))),
    sortTags: anyValue,
    maxTags: anyValue,
  },
  { requiredKeys: [] },
);
const notifier = fc.record(
  {
    name: maybe(fc.constantFrom('hooks', 'chat')),
    type: maybe(fc.constantFrom('mail', 'webhook', 'slack', 'pagerduty')),
    url: anyValue,
    urlFile: maybe(fc.constantFrom('secret', 'missing', '')),
    webhookUrl: anyValue,
    headers: anyValue,
    host: anyValue,
    to: anyValue,
    from: anyValue,
  },
  { requiredKeys: [] },
);
const configShaped = fc.record(
  {
    db: fc.oneof(fc.record({ path: anyValue }, { requiredKeys: [] }), anyValue),
    watch: fc.oneof(fc.record({ schedule: anyValue, timezone: anyValue, workers: anyValue, jitter: anyValue, runOnStartup: anyValue }, { requiredKeys: [] }), anyValue),
    defaults: fc.oneof(image.map(({ name: _name, ...rest }) => rest), anyValue),
    images: fc.oneof(fc.array(image, { maxLength: 4 }), anyValue),
    include: fc.oneof(fc.array(fc.constantFrom('images.d/*.yml', '*.txt', 'nothing/*.yml', '')), anyValue),
    notifiers: fc.oneof(fc.array(notifier, { maxLength: 3 }), anyValue),
    registries: fc.oneof(fc.array(fc.record({ name: anyValue, host: anyValue, passwordFile: maybe(fc.constantFrom('secret', 'nope')), password: anyValue }, { requiredKeys: [] }), { maxLength: 2 }), anyValue),
    server: anyValue,
  },
  { requiredKeys: [] },
);
const env = fc.dictionary(
  fc.constantFrom(
    'HERALD_WATCH_WORKERS', 'HERALD_WATCH_SCHEDULE', 'HERALD_NOTIFIERS_0_TYPE', 'HERALD_NOTIFIERS_0_NAME', 'HERALD_NOTIFIERS_1_URL',
    'HERALD_IMAGES_0_NAME', 'HERALD_IMAGES_0_METADATA_TEAM', 'HERALD_IMAGES_0', 'HERALD_', 'HERALD_X', 'HERALD_IMAGES_X_NAME',
    'HERALD_NOTIFIERS_0_HEADERS___proto__', 'HERALD_DEFAULTS_NOTIFYON', 'HERALD_REGISTRIES_0_PASSWORDFILE', 'HERALD_DB',
  ),
  fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('', '1', '-1', 'true', 'webhook', 'nginx', 'new,update')),
  { maxKeys: 4 },
);

describe('loadConfig on arbitrary input', () => {
  it('YAML-ish text: a config or a one-line ConfigError', async () => {
    await fc.assert(
      fc.asyncProperty(yamlish, async (text) => {
        await outcome(text);
      }),
      { numRuns: 200 },
    );
  });

  it('JSON documents (JSON is YAML): a config or a one-line ConfigError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        await outcome(JSON.stringify(value));
      }),
      { numRuns: 200 },
    );
  });

  it('config-shaped documents with environment overrides: a config or a one-line ConfigError', async () => {
    await fc.assert(
      fc.asyncProperty(configShaped, env, async (value, variables) => {
        await outcome(JSON.stringify(value), variables);
      }),
      { numRuns: 200 },
    );
  });
});
