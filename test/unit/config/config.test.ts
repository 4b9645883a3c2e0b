import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveImages } from '../../../src/config/images.js';
import { hostPlatform } from '../../../src/sources/image-options.js';
import { findConfigFile, loadConfig } from '../../../src/config/load.js';
import type { ConfigProblems } from '../../../src/config/problems.js';
import { ConfigError } from '../../../src/util/errors.js';
import { notifierModules } from '../../../src/notify/notifiers/index.js';

const NOTIFIER_TYPES = notifierModules.map((m) => m.type).join(', ');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'herald-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

const configFile = (): string => path.join(dir, 'herald.yml');
const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfig(write('herald.yml', text), env);

async function failure(promise: Promise<unknown>): Promise<ConfigProblems> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(outcome, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  const err = outcome as ConfigProblems;
  expect(err.exitCode).toBe(2);
  expect(err.message).not.toContain('\n');
  return err;
}

describe('findConfigFile', () => {
  it('takes -c first, relative to the working directory, and returns an absolute path', () => {
    write('custom.yml', 'images: []\n');
    write('herald.yml', 'images: []\n');
    expect(findConfigFile('custom.yml', { HERALD_CONFIG: 'herald.yml' }, dir)).toBe(path.join(dir, 'custom.yml'));
  });

  it('then $HERALD_CONFIG, then ./herald.yml, then ./config/herald.yml', () => {
    write('from-env.yml', '');
    write('config/herald.yml', '');
    expect(findConfigFile(undefined, { HERALD_CONFIG: 'from-env.yml' }, dir)).toBe(path.join(dir, 'from-env.yml'));
    expect(findConfigFile(undefined, {}, dir)).toBe(path.join(dir, 'config/herald.yml'));
    write('herald.yml', '');
    expect(findConfigFile(undefined, {}, dir)).toBe(path.join(dir, 'herald.yml'));
  });

  it.skipIf(existsSync('/etc/herald/herald.yml'))('says where it looked when there is no config', () => {
    expect(() => findConfigFile(undefined, {}, dir)).toThrow(ConfigError);
    expect(() => findConfigFile(undefined, {}, dir)).toThrow(
      `no config file found; looked at ${path.join(dir, 'herald.yml')}, ${path.join(dir, 'config/herald.yml')}, /etc/herald/herald.yml`,
    );
  });

  it('does not fall back when the named file is missing', () => {
    write('herald.yml', '');
    expect(() => findConfigFile('nope.yml', {}, dir)).toThrow(`config file ${path.join(dir, 'nope.yml')}: file not found`);
    expect(() => findConfigFile(undefined, { HERALD_CONFIG: 'gone.yml' }, dir)).toThrow(`${path.join(dir, 'gone.yml')} (from HERALD_CONFIG): file not found`);
  });
});

describe('loadConfig: defaults', () => {
  it('fills in every documented default', async () => {
    const loaded = await load('images:\n  - name: nginx:1.27\n');
    expect(loaded.file).toBe(configFile());
    expect(loaded.dir).toBe(dir);
    const { config } = loaded;
    expect(config.db.path).toBe('./data/herald.db'); // stays relative: the store resolves it against cwd
    expect(config.watch).toEqual({ runOnStartup: true, workers: 10, jitter: 30_000, firstCheckNotify: false });
    expect(config.notify.retry).toEqual({ attempts: 10, minDelay: 30_000, maxDelay: 3_600_000 });
    expect(config.registries).toEqual([]);
    expect(config.notifiers).toEqual([]);
    expect(config.include).toEqual([]);
    expect(config.server).toEqual({});
  });

  it('loads an empty file, and an empty key counts as not set', async () => {
    expect((await load('')).config.images).toEqual([]);
    const loaded = await load('registries:\n  # - name: corp\nnotifiers:\nwatch:\n  schedule: "*/5 * * * *"\n  timezone:\n');
    expect(loaded.config.registries).toEqual([]);
    expect(loaded.config.notifiers).toEqual([]);
    expect(loaded.config.watch.schedule).toBe('*/5 * * * *');
    expect(loaded.config.watch.timezone).toBeUndefined();
  });

  it('parses durations and keeps a valid 6-field cron and a time zone', async () => {
    const { config } = await load(
      'watch:\n  schedule: "30 0 */6 * * *"\n  timezone: Europe/Berlin\n  jitter: 1m30s\nregistries:\n  - name: r\n    host: r.example.com\n    timeout: 5\n',
    );
    expect(config.watch.jitter).toBe(90_000);
    expect(config.watch.timezone).toBe('Europe/Berlin');
    expect(config.registries[0]).toMatchObject({ name: 'r', insecure: false, timeout: 5000 });
  });

  it('resolves caFile paths against the config folder', async () => {
    const { config } = await load('registries:\n  - name: r\n    host: r.example.com\n    caFile: certs/ca.pem\n');
    expect(config.registries[0]?.caFile).toBe(path.join(dir, 'certs/ca.pem'));
  });
});

describe('loadConfig: errors name file, line, column and key', () => {
  it('unknown key, with the closest known key', async () => {
    const err = await failure(load('watch:\n  schedul: "0 * * * *"\n'));
    expect(err.message).toBe(`${configFile()}:2:3: watch.schedul: unknown key "schedul" in watch (did you mean "schedule"?)`);
  });

  it('wrong type', async () => {
    const err = await failure(load('watch:\n  workers: "8"\n'));
    expect(err.message).toBe(`${configFile()}:2:12: watch.workers: must be an integer from 1 to 256, not a string (remove the quotes)`);
  });

  it('bad regex', async () => {
    const err = await failure(load('images:\n  - name: nginx\n    excludeTags: ["*rc"]\n'));
    expect(err.message).toBe(`${configFile()}:3:19: images[0].excludeTags[0]: invalid regex /*rc/: Nothing to repeat`);
  });

  it('bad cron', async () => {
    const err = await failure(load('watch:\n  schedule: "0 */6 * *"\n'));
    expect(err.message).toMatch(new RegExp(`^${configFile()}:2:13: watch\\.schedule: invalid cron expression "0 \\*/6 \\* \\*": expected 5 fields`));
  });

  it('bad image reference', async () => {
    const err = await failure(load('images:\n  - name: nginx\n  - name: nginx\n    platform: linux/arm64\n  - name: Nginx\n'));
    expect(err.message).toBe(`${configFile()}:5:11: images[2].name: invalid image reference "Nginx": repository "Nginx" must be lowercase`);
  });

  it('unknown notifier name', async () => {
    const err = await failure(load('images:\n  - name: nginx\n    notifiers: [ops]\nnotifiers:\n  - name: dev\n    type: slack\n    webhookUrl: https://hooks.slack.com/x\n'));
    expect(err.message).toBe(`${configFile()}:3:17: images[0].notifiers[0]: unknown notifier "ops" (configured: dev)`);
  });

  it('duplicate names', async () => {
    const err = await failure(load('registries:\n  - name: a\n    host: a.example.com\n  - name: a\n    host: b.example.com\n'));
    expect(err.message).toBe(`${configFile()}:4:11: registries[1].name: duplicate registry name "a" (already used by registries[0])`);
  });

  it('unknown notifier type', async () => {
    const err = await failure(load('notifiers:\n  - name: t\n    type: pagerduty\n'));
    expect(err.message).toBe(`${configFile()}:3:11: notifiers[0].type: unknown notifier type "pagerduty" (expected ${NOTIFIER_TYPES})`);
  });

  it('a missing key points at the map that lacks it', async () => {
    const err = await failure(load('notifiers:\n  - name: m\n    type: mail\n    host: smtp.example.com\n    to: [a@example.com]\n'));
    expect(err.message).toBe(`${configFile()}:2:5: notifiers[0]: missing required key "from"`);
  });

  it('YAML syntax error', async () => {
    const err = await failure(load('watch:\n  workers: 4\n workers: 5\n'));
    expect(err.message).toMatch(new RegExp(`^${configFile()}:3:\\d+: YAML syntax error: `));
  });

  it('missing file', async () => {
    const missing = path.join(dir, 'absent.yml');
    const err = await failure(loadConfig(missing, {}));
    expect(err.message).toBe(`${missing}: cannot read config file: file not found`);
  });

  it('lists every problem, in file order, and summarizes them in the message', async () => {
    const err = await failure(load('watch:\n  workers: 0\n  jitter: later\nimages:\n  - name: UPPER\n  - name: ok\n    sortTags: random\n'));
    expect(err.problems).toEqual([
      `${configFile()}:2:12: watch.workers: must be an integer from 1 to 256`,
      `${configFile()}:3:11: watch.jitter: invalid duration "later" (use e.g. 30s, 5m, 1h30m)`,
      `${configFile()}:5:11: images[0].name: invalid image reference "UPPER": repository "UPPER" must be lowercase`,
      `${configFile()}:7:15: images[1].sortTags: must be one of default, reverse, lexicographical, semver (got "random")`,
    ]);
    expect(err.message).toBe(`${err.problems[0]} (and 3 more problems)`);
  });
});

describe('environment overrides', () => {
  it('override scalars of every type, matching camelCase keys case-insensitively', async () => {
    const { config } = await load('watch:\n  schedule: "0 * * * *"\n  workers: 2\n', {
      HERALD_WATCH_SCHEDULE: '*/10 * * * *',
      HERALD_WATCH_RUNONSTARTUP: 'no',
      HERALD_WATCH_FIRSTCHECKNOTIFY: '1',
      HERALD_WATCH_WORKERS: '16',
      HERALD_WATCH_JITTER: '2m',
      HERALD_DB_PATH: '/data/herald.db',
      HERALD_CONFIG: '/ignored.yml',
      HERALD_LOG_LEVEL: 'debug',
      PATH: process.env.PATH,
    });
    expect(config.watch).toEqual({ schedule: '*/10 * * * *', runOnStartup: false, firstCheckNotify: true, workers: 16, jitter: 120_000 });
    expect(config.db.path).toBe('/data/herald.db');
  });

  it('turn comma-separated values into lists', async () => {
    const { config } = await load('', { HERALD_DEFAULTS_NOTIFYON: 'new, update,error', HERALD_INCLUDE: 'a/*.yml,b/*.yml' });
    expect(config.defaults.notifyOn).toEqual(['new', 'update', 'error']);
    expect(config.include).toEqual(['a/*.yml', 'b/*.yml']);
  });

  it('override list items by index and create items past the end', async () => {
    const { config } = await load('notifiers:\n  - name: hooks\n    type: webhook\n    url: https://old.example.com\n', {
      HERALD_NOTIFIERS_0_URL: 'https://new.example.com/hook',
      HERALD_NOTIFIERS_1_NAME: 'chat',
      HERALD_NOTIFIERS_1_TYPE: 'slack',
      HERALD_NOTIFIERS_1_WEBHOOKURL: 'https://hooks.slack.com/services/x',
      HERALD_NOTIFIERS_2_NAME: 'mail',
      HERALD_NOTIFIERS_2_TYPE: 'mail',
      HERALD_NOTIFIERS_2_HOST: 'smtp.example.com',
      HERALD_NOTIFIERS_2_PORT: '25',
      HERALD_NOTIFIERS_2_FROM: 'herald@example.com',
      HERALD_NOTIFIERS_2_TO: 'a@example.com,b@example.com',
    });
    expect(config.notifiers.map((n) => n.name)).toEqual(['hooks', 'chat', 'mail']);
    expect(config.notifiers[0]).toMatchObject({ type: 'webhook', url: 'https://new.example.com/hook' });
    expect(config.notifiers[1]).toMatchObject({ type: 'slack', webhookUrl: 'https://hooks.slack.com/services/x' });
    expect(config.notifiers[2]).toMatchObject({ type: 'mail', port: 25, to: ['a@example.com', 'b@example.com'] });
  });

  it('set entries of free maps by the rest of the name', async () => {
    const { config } = await load('images:\n  - name: nginx\n    metadata: { Team: web }\n', {
      HERALD_IMAGES_0_METADATA_TEAM: 'platform',
      HERALD_IMAGES_0_METADATA_cost_center: '42',
      HERALD_IMAGES_1_NAME: 'redis:7',
      HERALD_NOTIFIERS_0_NAME: 'h',
      HERALD_NOTIFIERS_0_TYPE: 'webhook',
      HERALD_NOTIFIERS_0_URL: 'https://hooks.example.com',
      HERALD_NOTIFIERS_0_HEADERS_AUTHORIZATION: 'Bearer abc',
    });
    expect(config.images[0]?.metadata).toEqual({ Team: 'platform', cost_center: '42' });
    expect(config.images[1]?.name).toBe('redis:7');
    expect(config.notifiers[0]).toMatchObject({ headers: { AUTHORIZATION: 'Bearer abc' } });
  });

  it("skips Kubernetes' service-link variables of a Service named herald, but not typos or real keys", async () => {
    const links = {
      HERALD_SERVICE_HOST: '10.96.0.12',
      HERALD_SERVICE_PORT: '8080',
      HERALD_SERVICE_PORT_HTTP: '8080',
      HERALD_PORT: 'tcp://10.96.0.12:8080',
      HERALD_PORT_8080_TCP: 'tcp://10.96.0.12:8080',
      HERALD_PORT_8080_TCP_PROTO: 'tcp',
      HERALD_PORT_8080_TCP_PORT: '8080',
      HERALD_PORT_8080_TCP_ADDR: '10.96.0.12',
      HERALD_DB_SERVICE_HOST: '10.96.0.13', // a Service named herald-db
      HERALD_DB_PORT_5432_TCP_ADDR: '10.96.0.13',
    };
    const { config } = await load('notifiers:\n  - { name: m, type: mail, host: smtp.example.com, from: h@example.com, to: [a@example.com] }\n', {
      ...links,
      HERALD_NOTIFIERS_0_PORT: '2525', // a real key ending in _PORT still applies
    });
    expect(config.notifiers[0]).toMatchObject({ port: 2525 });
    expect(config.db.path).not.toContain('10.96');
    const err = await failure(load('', { ...links, HERALD_WATCH_WORKRS: '4' }));
    expect(err.message).toBe('environment HERALD_WATCH_WORKRS: watch: no key "WORKRS" (did you mean HERALD_WATCH_WORKERS?)');
  });

  it('an empty value removes the key', async () => {
    const { config } = await load('server:\n  listen: 127.0.0.1:8080\n', { HERALD_SERVER_LISTEN: '' });
    expect(config.server.listen).toBeUndefined();
  });

  it('a secret from the environment replaces the file’s *File twin', async () => {
    const { config } = await load('registries:\n  - name: r\n    host: r.example.com\n    username: bot\n    passwordFile: /nonexistent/secret\n', {
      HERALD_REGISTRIES_0_PASSWORD: 'from-env',
    });
    expect(config.registries[0]?.password).toBe('from-env');
    expect(config.registries[0]?.passwordFile).toBeUndefined();
  });

  it('are validated like the file, naming the variable (exit 2)', async () => {
    const err = await failure(load('watch:\n  workers: 4\n', { HERALD_WATCH_WORKERS: '-1' }));
    expect(err.message).toBe('environment HERALD_WATCH_WORKERS: watch.workers: must be an integer from 1 to 256');
    expect((await failure(load('', { HERALD_WATCH_WORKERS: 'many' }))).message).toBe(
      'environment HERALD_WATCH_WORKERS: watch.workers: must be an integer from 1 to 256, got "many"',
    );
    expect((await failure(load('', { HERALD_WATCH_RUNONSTARTUP: 'maybe' }))).message).toBe(
      'environment HERALD_WATCH_RUNONSTARTUP: watch.runOnStartup: must be true or false (or 1/0, yes/no), got "maybe"',
    );
    expect((await failure(load('', { HERALD_WATCH_SCHEDULE: '99 * * * *' }))).message).toBe(
      'environment HERALD_WATCH_SCHEDULE: watch.schedule: invalid cron expression "99 * * * *": bad minute field "99"',
    );
  });

  it('an item created from the environment must be complete', async () => {
    const err = await failure(load('', { HERALD_NOTIFIERS_0_URL: 'https://hooks.example.com' }));
    expect(err.problems).toContain(`environment HERALD_NOTIFIERS_0_URL: notifiers[0]: missing required key "type" (one of ${NOTIFIER_TYPES})`);
  });

  it('reject variables that name no key', async () => {
    const err = await failure(load('', { HERALD_WATCH_SCHEDUL: '* * * * *', HERALD_TOKEN: 'x' }));
    expect(err.problems).toEqual([
      'environment HERALD_TOKEN: config: no top-level key "TOKEN"',
      'environment HERALD_WATCH_SCHEDUL: watch: no key "SCHEDUL" (did you mean HERALD_WATCH_SCHEDULE?)',
    ]);
    expect((await failure(load('', { HERALD_WATCH: 'x' }))).message).toBe(
      'environment HERALD_WATCH: watch: is a section, not a value; set one of its keys, e.g. HERALD_WATCH_SCHEDULE',
    );
    expect((await failure(load('', { HERALD_DB_PATH_X: 'x' }))).message).toBe('environment HERALD_DB_PATH_X: db.path: is a single value; "X" after it does not name a key');
  });

  it('reject an index that leaves a gap', async () => {
    const err = await failure(load('', { HERALD_REGISTRIES_2_NAME: 'r' }));
    expect(err.message).toBe('environment HERALD_REGISTRIES_2_NAME: registries[2]: index 2 is past the end of registries, which has 0 items; add items in order');
  });
});

describe('*File secrets', () => {
  it('read the file relative to the config folder and drop exactly one trailing newline', async () => {
    write('secrets/registry', 's3cret\n\n');
    write('secrets/user', 'bot\r\n');
    write('secrets/hook', 'https://hooks.example.com/x');
    write('secrets/hmac', 'key\n');
    write('secrets/slack', 'https://hooks.slack.com/services/T/B/C\n');
    write('secrets/token', 'api-token\n');
    const { config } = await load(
      [
        'registries:',
        '  - name: r',
        '    host: r.example.com',
        '    usernameFile: secrets/user',
        '    passwordFile: ./secrets/registry',
        'notifiers:',
        '  - name: h',
        '    type: webhook',
        '    urlFile: secrets/hook',
        '    secretFile: secrets/hmac',
        '  - name: s',
        '    type: slack',
        '    webhookUrlFile: secrets/slack',
        'server:',
        '  tokenFile: secrets/token',
        '',
      ].join('\n'),
    );
    expect(config.registries[0]).toMatchObject({ username: 'bot', password: 's3cret\n', passwordFile: path.join(dir, 'secrets/registry') });
    expect(config.notifiers[0]).toMatchObject({ url: 'https://hooks.example.com/x', secret: 'key' });
    expect(config.notifiers[1]).toMatchObject({ webhookUrl: 'https://hooks.slack.com/services/T/B/C' });
    expect(config.server.token).toBe('api-token');
  });

  it('a missing file names the key, its position and the OS reason', async () => {
    const err = await failure(load('server:\n  tokenFile: ./missing-token\n'));
    expect(err.message).toBe(`${configFile()}:2:14: server.tokenFile: cannot read "./missing-token": file not found`);
  });

  it('an empty API token, in the file or from an empty secret file, is an error, not an open /api', async () => {
    let err = await failure(load('server:\n  listen: 127.0.0.1:8080\n  token: ""\n'));
    expect(err.message).toBe(`${configFile()}:3:10: server.token: must not be empty`);
    write('empty-token', '\n');
    err = await failure(load('server:\n  listen: 127.0.0.1:8080\n  tokenFile: ./empty-token\n'));
    expect(err.message).toBe(`${configFile()}:3:14: server.tokenFile: "./empty-token" is empty`);
  });

  it('never shows the content of a secret file', async () => {
    write('hook', 'not a url but a secret\n');
    const err = await failure(load('notifiers:\n  - name: h\n    type: webhook\n    urlFile: hook\n'));
    expect(err.message).toBe(`${configFile()}:4:14: notifiers[0].urlFile: the content of "hook" is not a valid url`);
    expect(err.message).not.toContain('secret');
  });

  it('a *File path from the environment is relative to the config folder too', async () => {
    write('pw', 'from-file\n');
    const { config } = await load('registries:\n  - name: r\n    host: r.example.com\n    password: inline\n', { HERALD_REGISTRIES_0_PASSWORDFILE: 'pw' });
    expect(config.registries[0]?.password).toBe('from-file');
  });
});

describe('resolveImages', () => {
  it('applies defaults: platform, notifyOn, metadata merge, tag options, hub link', async () => {
    const loaded = await load(
      [
        'defaults:',
        '  metadata: { team: platform, tier: 1 }',
        '  notifiers: [ops]',
        'images:',
        '  - name: nginx:1.27',
        '    metadata: { team: web, public: true }',
        '  - name: ghcr.io/acme/api:1.4.2',
        '    platform: linux/arm64',
        '    notifyOn: [update, error]',
        '    notifiers: []',
        '    watchRepo: true',
        '    includeTags: ["^\\\\d+\\\\.\\\\d+\\\\.\\\\d+$"]',
        '    sortTags: semver',
        '    maxTags: 5',
        '    newerOnly: true',
        '  - name: registry.example.com/team/app',
        'notifiers:',
        '  - name: ops',
        '    type: slack',
        '    webhookUrl: https://hooks.slack.com/services/x',
        '',
      ].join('\n'),
    );
    const [nginx, api, app] = await resolveImages(loaded);
    expect(nginx).toEqual({
      name: 'nginx:1.27',
      ref: { registry: 'docker.io', repository: 'library/nginx', tag: '1.27', digest: undefined, name: 'docker.io/library/nginx:1.27' },
      platform: hostPlatform(),
      notifyOn: ['new', 'update'],
      notifiers: ['ops'],
      metadata: { team: 'web', tier: 1, public: true },
      hubLink: 'https://hub.docker.com/_/nginx',
      watchRepo: false,
      includeTags: [],
      excludeTags: [],
      sortTags: 'default',
      maxTags: 0,
      newerOnly: false,
      sameFlavour: true,
      includePrereleases: false,
      source: `${configFile()}:5`,
    });
    expect(api).toMatchObject({
      platform: 'linux/arm64',
      notifyOn: ['update', 'error'],
      notifiers: [],
      watchRepo: true,
      includeTags: ['^\\d+\\.\\d+\\.\\d+$'],
      sortTags: 'semver',
      maxTags: 5,
      newerOnly: true,
      hubLink: 'https://ghcr.io/acme/api',
      source: `${configFile()}:7`,
    });
    expect(app?.ref.name).toBe('registry.example.com/team/app:latest');
    expect(app?.hubLink).toBeUndefined();
  });

  it('leaves notifiers undefined (every notifier) unless set, and honours defaults.platform and defaults.notifyOn', async () => {
    const loaded = await load('defaults:\n  platform: linux/s390x\n  notifyOn: [error]\nimages:\n  - name: alpine\n    hubLink: https://example.com/alpine\n');
    const [alpine] = await resolveImages(loaded);
    expect(alpine?.platform).toBe('linux/s390x');
    expect(alpine?.notifyOn).toEqual(['error']);
    expect(alpine?.notifiers).toBeUndefined();
    expect(alpine?.hubLink).toBe('https://example.com/alpine');
  });

  it('reads include globs again on every call', async () => {
    write('images.d/a.yml', '- name: nginx:1.27\n');
    const loaded = await load('include: ["images.d/*.yml", "more/*.yml"]\n');
    expect((await resolveImages(loaded)).map((i) => i.name)).toEqual(['nginx:1.27']);
    write('images.d/b.yml', '# added while running\n- name: redis:7\n  metadata: { from: b }\n');
    const second = await resolveImages(loaded);
    expect(second.map((i) => i.name)).toEqual(['nginx:1.27', 'redis:7']);
    expect(second[1]?.source).toBe(`${path.join(dir, 'images.d/b.yml')}:2`);
    expect(second[1]?.metadata).toEqual({ from: 'b' });
  });

  it('accepts absolute include patterns and skips the config file itself', async () => {
    write('extra/x.yml', '- name: alpine:3.20\n');
    const loaded = await load(`include: ["${path.join(dir, 'extra')}/*.yml", "*.yml"]\nimages:\n  - name: busybox\n`);
    expect((await resolveImages(loaded)).map((i) => i.name)).toEqual(['busybox', 'alpine:3.20']);
  });

  it('names the include file, line and key of a problem in it', async () => {
    write('images.d/web.yml', '# web images\n- name: nginx\n- name: Nginx\n- name: redis\n  notifiers: [nope]\n');
    const err = await failure(resolveImages(await load('include: [images.d/*.yml]\n')));
    const web = path.join(dir, 'images.d/web.yml');
    expect(err.problems).toEqual([
      `${web}:3:9: [1].name: invalid image reference "Nginx": repository "Nginx" must be lowercase`,
      `${web}:5:15: [2].notifiers[0]: unknown notifier "nope" (no notifiers are configured)`,
    ]);
  });

  it('rejects the same image and platform twice, naming both places', async () => {
    write('images.d/dup.yml', '- name: docker.io/library/nginx:latest\n  platform: linux/amd64\n- name: nginx\n  platform: linux/arm64\n');
    const loaded = await load('images:\n  - name: redis\n  - name: nginx\n    platform: linux/amd64\ninclude: [images.d/*.yml]\n');
    const err = await failure(resolveImages(loaded));
    expect(err.message).toBe(
      `${path.join(dir, 'images.d/dup.yml')}:1:9: [0].name: docker.io/library/nginx:latest for linux/amd64 is already watched (declared at ${configFile()}:3)`,
    );
  });

  it('rejects watchRepo + newerOnly on an image whose tag is not a version, naming the line', async () => {
    const loaded = await load('defaults:\n  newerOnly: true\nimages:\n  - name: nginx:1.27.2-alpine\n    watchRepo: true\n  - name: nginx:mainline-alpine\n    watchRepo: true\n  - name: redis:latest\n');
    const err = await failure(resolveImages(loaded));
    expect(err.message).toBe(
      `${configFile()}:6:11: images[1].name: newerOnly needs a version tag to compare with (like 1.27.2 or v3.2.1-alpine); "mainline-alpine" is not one`,
    );
  });

  it('gives images created from the environment that as their source', async () => {
    const [image] = await resolveImages(await load('', { HERALD_IMAGES_0_NAME: 'nginx' }));
    expect(image?.source).toBe('environment HERALD_IMAGES_0_NAME');
  });
});

describe('hostPlatform', () => {
  it('maps the Node architecture to a linux platform', () => {
    const expected: Record<string, string> = { x64: 'linux/amd64', arm64: 'linux/arm64/v8', arm: 'linux/arm/v7' };
    if (expected[process.arch]) expect(hostPlatform()).toBe(expected[process.arch]);
    expect(hostPlatform()).toMatch(/^linux\/[a-z0-9]+(\/v\d+)?$/);
  });
});

describe('config/herald.yml, the example', () => {
  it('loads without secrets and resolves its images', async () => {
    const example = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../config/herald.yml');
    const loaded = await loadConfig(example, {});
    expect(loaded.config.db.path).toBe('./data/herald.db');
    expect(loaded.config.watch.schedule).toBe('0 */6 * * *');
    expect(loaded.config.watch.runOnStartup).toBe(true);
    const images = await resolveImages(loaded);
    expect(images.map((i) => i.ref.name)).toContain('docker.io/library/nginx:1.27-alpine');
    expect(images.some((i) => i.platform === 'linux/arm64')).toBe(true);
  });
});
