/**
 * The notifier seam: the list in notify/notifiers/index.ts drives the config's union, the *File
 * secrets, the path keys, the entry checks and the log redaction. Each module is run through the
 * real loader and a real pino logger; a module made up here is run through catalogOf to show that
 * a new file plus a list entry is all a notifier needs.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { configSchema, SECRET_FILE_KEYS } from '../../../src/config/schema.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/util/errors.js';
import { createLogger, silentLogger } from '../../../src/util/log.js';
import { httpUrl } from '../../../src/util/schema.js';
import { catalogOf } from '../../../src/notify/catalog.js';
import { defineNotifier, notifierCommon, type Notifier } from '../../../src/notify/notifier.js';
import { notifierCatalog, notifierModules, notifierSchema, type NotifierConfig } from '../../../src/notify/notifiers/index.js';

/** A minimal valid entry per type; a module added to the list without one here fails to compile. */
const samples: Record<NotifierConfig['type'], Record<string, unknown>> = {
  mail: { name: 'ops-mail', type: 'mail', host: 'smtp.example.com', from: 'herald@example.com', to: ['ops@example.com'] },
  webhook: { name: 'hooks', type: 'webhook', url: 'https://hooks.example.com/herald' },
  slack: { name: 'ops-slack', type: 'slack', webhookUrl: 'https://hooks.slack.com/services/T0/B0/x' },
  ntfy: { name: 'phone', type: 'ntfy', topic: 'herald-ops' },
  discord: { name: 'ops-discord', type: 'discord', webhookUrl: 'https://discord.com/api/webhooks/1/x' },
  teams: { name: 'ops-teams', type: 'teams', webhookUrl: 'https://prod-00.westeurope.logic.azure.com/workflows/x' },
  telegram: { name: 'ops-telegram', type: 'telegram', botToken: '123456:ABC-telegram', chatId: -1001234567890 },
  gotify: { name: 'phone', type: 'gotify', url: 'https://gotify.example.com', token: 'AbCdEf.123' },
  pushover: { name: 'push', type: 'pushover', userKey: 'uQiRzpo4DXghDmr9QzzfQu27cmVRsG', appToken: 'azGDORePK8gMaC0QOYAMyEEuzJnyUi' },
  matrix: { name: 'room', type: 'matrix', homeserverUrl: 'https://matrix.example.org', accessToken: 'syt_abc_123', roomId: '!ops:example.org' },
  script: { name: 'hook-script', type: 'script', command: ['/usr/local/bin/on-update', '--quiet'], env: { TEAM: 'web' } },
};
const sample = (type: string): Record<string, unknown> => structuredClone(samples[type as NotifierConfig['type']]);

/** Valid for every secret key of the real modules, URLs included. */
const secretValue = (key: string): string =>
  // script's `env` read from envFile is NAME=value lines.
  key === 'env' ? 'SCRIPT_TOKEN=S3CR3T-env-4711' : `https://hooks.example.com/S3CR3T-${key}-4711`;

function captureLogger(secretKeys: readonly string[]) {
  const lines: Array<Record<string, unknown>> = [];
  let text = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, text: () => text, logger: createLogger({ level: 'debug', destination, pretty: false, secretKeys }) };
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const segments = dotted.split('.');
  const last = segments.pop()!;
  let holder = target;
  for (const segment of segments) holder = (holder[segment] ??= {}) as Record<string, unknown>;
  holder[last] = value;
}

function getPath(source: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((value, segment) => (value as Record<string, unknown> | undefined)?.[segment], source);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'herald-seam-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(relative: string, text: string): string {
  const file = path.join(dir, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const loadNotifier = async (entry: Record<string, unknown>) => {
  const loaded = await loadConfig(write('conf/herald.yml', JSON.stringify({ notifiers: [entry] })), {});
  return loaded.config.notifiers[0]! as Record<string, unknown>;
};

describe('the notifier list', () => {
  it('is the config schema\'s notifier union, member for member, in list order', () => {
    expect(notifierSchema.options).toHaveLength(notifierModules.length);
    notifierModules.forEach((module, i) => expect(notifierSchema.options[i]).toBe(module.schema));
    expectTypeOf<NotifierConfig['type']>().toEqualTypeOf<(typeof notifierModules)[number]['type']>();
  });

  it.each(notifierModules.map((m) => [m.type, m] as const))('%s: an entry parses through configSchema as its own type', (type, module) => {
    const parsed = configSchema.safeParse({ notifiers: [sample(type)] });
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(parsed.data?.notifiers[0]?.type).toBe(module.type);
    // A key of this type only is refused on another type: the union really discriminates.
    const other = notifierModules.find((m) => m !== module)!;
    expect(configSchema.safeParse({ notifiers: [{ ...sample(type), type: other.type }] }).success).toBe(false);
  });

  it.each(notifierModules.map((m) => [m.type, m] as const))('%s: its secret keys are redacted in log lines', (type, module) => {
    const { text, logger } = captureLogger(notifierCatalog.redactKeys);
    const entry: Record<string, unknown> = sample(type);
    for (const key of module.secretKeys) entry[key] = secretValue(key);
    logger.info({ notifier: entry }, 'loaded');
    logger.info({ config: { notifiers: entry } }, 'nested');
    logger.info(Object.fromEntries(module.secretKeys.map((key) => [key, secretValue(key)])), 'top level');
    expect(module.secretKeys.length).toBeGreaterThan(0);
    for (const key of module.secretKeys) expect(text()).not.toContain(secretValue(key));
    expect(text()).toContain('[redacted]');
  });

  it('redacts only by the names the list gives besides the generic ones', () => {
    // Without the notifiers' names, a Slack webhook URL would be logged: the list is what hides it.
    const bare = captureLogger([]);
    bare.logger.info({ notifier: { webhookUrl: secretValue('webhookUrl') } }, 'x');
    expect(bare.text()).toContain(secretValue('webhookUrl'));
    // A twin key that is not a secret by name (url) stays readable: registry debug lines log `url`.
    const full = captureLogger(notifierCatalog.redactKeys);
    full.logger.debug({ url: 'https://registry.example.com/v2/' }, 'registry request');
    expect(full.lines[0]?.url).toBe('https://registry.example.com/v2/');
  });

  const twinKeys = notifierModules.flatMap((m) => [...m.secretKeys, ...m.fileTwinKeys].map((key) => [m.type, key] as const));

  it('gives the config loader every key with a *File twin', () => {
    for (const [, key] of twinKeys) expect(SECRET_FILE_KEYS).toContain(key);
  });

  it.each(twinKeys)('%s: %s can be read from a <key>File next to the config', async (type, key) => {
    write(`conf/secrets/${key}`, `${secretValue(key)}\n`);
    const entry = sample(type);
    delete entry[key];
    entry[`${key}File`] = `secrets/${key}`;
    const notifier = await loadNotifier(entry);
    expect(notifier[key]).toBe(secretValue(key));
    expect(notifier[`${key}File`]).toBe(path.join(dir, 'conf', 'secrets', key));
  });

  it.each(twinKeys)('%s: %s together with its *File twin is refused', async (type, key) => {
    write(`conf/secrets/${key}`, secretValue(key));
    const entry = { ...sample(type), [key]: secretValue(key), [`${key}File`]: `secrets/${key}` };
    const err = await loadNotifier(entry).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`notifiers[0].${key}File: set either ${key} or ${key}File, not both`);
  });

  const pathKeys = notifierModules.flatMap((m) => m.pathKeys.map((key) => [m.type, key] as const));

  it.each(pathKeys)('%s: %s resolves against the config file\'s folder', async (type, key) => {
    write('conf/certs/ca.pem', 'in the config folder');
    // The working directory has no certs/: a check that read the file from there would fail the load.
    write('cwd/unrelated', '');
    const entry = sample(type);
    setPath(entry, key, 'certs/ca.pem');
    const cwd = process.cwd();
    process.chdir(path.join(dir, 'cwd'));
    try {
      expect(getPath(await loadNotifier(entry), key)).toBe(path.join(dir, 'conf', 'certs', 'ca.pem'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('reports whole-entry problems at the entry', async () => {
    const entries = notifierModules.map((m) => {
      const entry = sample(m.type);
      for (const key of [...m.secretKeys, ...m.fileTwinKeys]) delete entry[key];
      return entry;
    });
    const err = await loadConfig(write('conf/herald.yml', JSON.stringify({ notifiers: entries })), {}).then(() => undefined, (e: unknown) => e);
    const problems = (err as { problems: string[] }).problems;
    expect(problems.some((p) => p.includes('notifiers[1]: a webhook notifier needs url or urlFile'))).toBe(true);
    expect(problems.some((p) => p.includes('notifiers[2]: a slack notifier needs webhookUrl or webhookUrlFile'))).toBe(true);
  });
});

describe('a new notifier module', () => {
  const pagerSchema = z
    .object({
      ...notifierCommon,
      type: z.literal('pager'),
      endpoint: httpUrl.optional(),
      apiKey: z.string().optional(),
      apiKeyFile: z.string().optional(),
      keyring: z.object({ file: z.string().optional() }).strict().optional(),
    })
    .strict();
  const sent: string[] = [];
  const pagerModule = defineNotifier({
    schema: pagerSchema,
    secretKeys: ['apiKey'],
    pathKeys: ['keyring.file'],
    entryProblems: (config) => (config.endpoint === undefined ? ['a pager notifier needs endpoint'] : []),
    validate: (config) => (config.templateBody !== undefined ? [{ key: 'templateBody', message: 'pagers take no templates' }] : []),
    create: (config): Notifier => ({
      name: config.name,
      type: 'pager',
      send: async (msg) => void sent.push(`${config.name}:${msg.deliveryId}`),
      close: async () => undefined,
    }),
  });
  const catalog = catalogOf([...notifierModules, pagerModule]);
  const pager = { name: 'oncall', type: 'pager', endpoint: 'https://pager.example.com/', apiKey: 'PAGER-KEY-0815', keyring: { file: 'keys/ring' } };

  it('joins the union with its schema, refusing what its schema refuses', () => {
    const parsed = z.array(catalog.schema).parse([pager, samples.slack]);
    expect(parsed.map((n) => n.type)).toEqual(['pager', 'slack']);
    expect(catalog.schema.safeParse({ ...pager, url: 'https://x/' }).success).toBe(false);
    expect(JSON.stringify(z.toJSONSchema(catalog.schema, { io: 'input' }))).toContain('"pager"');
    // The union's output type includes the new member.
    expectTypeOf<z.output<typeof catalog.schema>['type']>().toEqualTypeOf<NotifierConfig['type'] | 'pager'>();
  });

  it('gets its secret key redacted and given a *File twin, and its path keys resolved', () => {
    expect(catalog.fileTwinKeys).toContain('apiKey');
    expect(catalog.twinKeysOf(catalog.schema.parse(pager))).toEqual(['apiKey']);
    const { text, logger } = captureLogger(catalog.redactKeys);
    logger.info({ notifier: pager }, 'loaded');
    expect(text()).not.toContain('PAGER-KEY-0815');
    expect(text()).toContain('oncall');

    const entry = catalog.schema.parse(pager);
    catalog.resolvePaths(entry, '/etc/herald');
    expect(entry).toMatchObject({ keyring: { file: '/etc/herald/keys/ring' } });
  });

  it('gets its checks and its create called for its own entries only', async () => {
    const entry = catalog.schema.parse({ ...pager, endpoint: undefined, templateBody: 'x' });
    expect(catalog.entryProblems(entry)).toEqual(['a pager notifier needs endpoint']);
    expect(catalog.validate(entry)).toEqual([{ key: 'templateBody', message: 'pagers take no templates' }]);
    expect(catalog.entryProblems(catalog.schema.parse(samples.webhook))).toEqual([]);
    await catalog.create(entry, { logger: silentLogger }).send({ deliveryId: 'd1', events: [] });
    expect(sent).toEqual(['oncall:d1']);
  });

  it('is checked by the compiler and the list', () => {
    defineNotifier({
      schema: pagerSchema,
      // @ts-expect-error endpoint has no endpointFile twin in the schema, so it cannot be a secret key
      secretKeys: ['endpoint'],
      validate: () => [],
      create: () => ({ name: 'x', type: 'pager', send: async () => undefined, close: async () => undefined }),
    });
    expect(() => catalogOf([...notifierModules, pagerModule, pagerModule])).toThrow('two notifier modules have type "pager"');
  });
});
