/**
 * Secrets never leak. Every secret field of the config holds a distinct marker value: the registry
 * password (and its Basic header), a second registry's password and one read from passwordFile,
 * the webhook secret, URL path and query tokens, header values, credentials in a URL, the Slack
 * webhook URL, the mail password (right and wrong), and server.token. Then herald does everything
 * it does with debug logs on: check (new, update, deliveries that succeed, fail with 500, are
 * refused, are rejected by SMTP), serve with its HTTP server (/healthz, /metrics, /api/*, with and
 * without the token, POST /api/check, a SIGHUP with a broken config), images list/inspect, events,
 * notify test, config validate (valid, and broken around the secrets), check with a broken config
 * and with a broken environment override. Every byte herald printed, served, sent in a message body
 * or stored in its database is searched for every marker: none may appear.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startSlackSink, type SlackSink } from '../fixtures/slack-sink.js';
import { startSmtpSink, type SmtpSink } from '../fixtures/smtp-sink.js';
import { herald, killServes, spawnServe, tempDir, until, type CliResult } from './helpers.js';
import { freePort as closedPort } from '../../fixtures/ports.js';

const marker = (what: string): string => `Mk${randomBytes(6).toString('hex')}${what}`;

describe('secrets never leak', () => {
  let registry: TestRegistry;
  let hook: HttpSink;
  let echo: HttpSink;
  let slack: SlackSink;
  let smtp: SmtpSink;
  let tmp: ReturnType<typeof tempDir>;
  let config: string;
  let broken: string;
  const secrets: Record<string, string> = {};
  /** Everything herald printed, served or stored, by where it came from. */
  const seen: Array<{ where: string; text: string }> = [];
  const record = (where: string, text: string): void => void seen.push({ where, text });
  const recordCli = (what: string, r: CliResult): void => {
    record(`${what} stdout`, r.stdout);
    record(`${what} stderr`, r.stderr);
  };
  const run = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const r = await herald([...args, '--log-level', 'debug'], { env: { HERALD_LOG_LEVEL: 'debug', ...env }, timeoutMs: 60_000 });
    recordCli(`herald ${args.join(' ')}`, r);
    return r;
  };
  let image: string;

  beforeAll(async () => {
    tmp = tempDir('herald-secrets-');
    registry = await startRegistry({ auth: 'htpasswd' });
    hook = await startHttpSink();
    // A receiver that fails and echoes back everything it was sent, headers included.
    echo = await startHttpSink((req) => ({ status: 500, body: `echo ${req.method} ${req.path} ${JSON.stringify(req.headers)}` }));
    slack = await startSlackSink();
    Object.assign(secrets, {
      registryPassword: registry.password!,
      registryBasic: Buffer.from(`${registry.username}:${registry.password}`).toString('base64'),
      otherRegistryPassword: marker('reg2pw'),
      filedRegistryPassword: marker('regfilepw'),
      webhookSecret: marker('hmac'),
      webhookPathToken: marker('urlpath'),
      webhookQueryToken: marker('urlquery'),
      webhookHeader: marker('header'),
      webhookHeader2: marker('apikey'),
      downUrlPassword: marker('downurlpw'),
      downPathToken: marker('downpath'),
      echoQueryToken: marker('echoquery'),
      echoHeader: marker('echoheader'),
      slackToken: marker('slack'),
      mailPassword: marker('mailpw'),
      wrongMailPassword: marker('mailbad'),
      apiToken: marker('apitoken'),
      reloadToken: marker('reloadtoken'),
      brokenUrlToken: marker('brokenurl'),
      brokenHeader: marker('brokenheader'),
      brokenPassword: marker('brokenpw'),
      envUrlToken: marker('envurl'),
    });
    smtp = await startSmtpSink({ auth: { username: 'herald-mail', password: secrets.mailPassword! } });
    writeFileSync(join(tmp.dir, 'filed-password'), `${secrets.filedRegistryPassword}\n`);
    await registry.pushImage('secret/app', '1', { seed: 'v1' });
    image = `${registry.host}/secret/app:1`;
    const down = await closedPort();
    const lines = (token: string) => [
      `db: { path: ${join(tmp.dir, 'herald.db')} }`,
      'watch: { schedule: "0 0 1 1 *", runOnStartup: true, jitter: 0, firstCheckNotify: true }',
      'defaults: { notifyOn: [new, update, error] }',
      'notify: { retry: { attempts: 3, minDelay: 100ms, maxDelay: 200ms } }',
      'server: { listen: "127.0.0.1:0", token: "' + token + '" }',
      'registries:',
      `  - { name: local, host: "${registry.host}", insecure: true, timeout: 5s, username: ${registry.username}, password: "${registry.password}" }`,
      `  - { name: other, host: other.invalid, username: bot, password: "${secrets.otherRegistryPassword}" }`,
      '  - { name: filed, host: filed.invalid, username: bot, passwordFile: filed-password }',
      'images:',
      `  - name: ${image}`,
      '  - name: other.invalid/team/app:1',
      'notifiers:',
      `  - name: hook`,
      `    type: webhook`,
      `    url: "${hook.url}/hook/${secrets.webhookPathToken}?token=${secrets.webhookQueryToken}"`,
      `    secret: "${secrets.webhookSecret}"`,
      `    headers: { Authorization: "Bearer ${secrets.webhookHeader}", X-Api-Key: "${secrets.webhookHeader2}" }`,
      `  - { name: down, type: webhook, url: "http://user:${secrets.downUrlPassword}@127.0.0.1:${down}/x/${secrets.downPathToken}", timeout: 2s }`,
      `  - { name: echo, type: webhook, url: "${echo.url}/e?key=${secrets.echoQueryToken}", headers: { X-Token: "${secrets.echoHeader}" } }`,
      `  - { name: chat, type: slack, webhookUrl: "${slack.url}/services/${secrets.slackToken}" }`,
      `  - { name: mail, type: mail, host: 127.0.0.1, port: ${smtp.port}, secure: false, username: herald-mail, password: "${secrets.mailPassword}", from: herald@example.com, to: [ops@example.com] }`,
      `  - { name: badmail, type: mail, host: 127.0.0.1, port: ${smtp.port}, secure: false, username: herald-mail, password: "${secrets.wrongMailPassword}", from: herald@example.com, to: [ops@example.com] }`,
    ];
    config = join(tmp.dir, 'herald.yml');
    writeFileSync(config, lines(secrets.apiToken!).join('\n'));
    // The same config with the secrets in places where they are wrong.
    broken = join(tmp.dir, 'broken.yml');
    writeFileSync(
      broken,
      lines(secrets.apiToken!)
        .map((l) => (l.includes('name: down,') ? `  - { name: down, type: webhook, url: "ftp://u:${secrets.brokenUrlToken}@x/${secrets.brokenUrlToken}" }` : l))
        .map((l) => (l.includes('name: echo,') ? `  - { name: echo, type: webhook, url: "${echo.url}/e", headers: { X-Token: ["${secrets.brokenHeader}"] } }` : l))
        .map((l) => (l.includes('name: other,') ? `  - { name: other, host: other.invalid, username: bot, password: ["${secrets.brokenPassword}"], passwordFile: x }` : l))
        .join('\n'),
    );
  }, 60_000);

  afterEach(killServes);

  afterAll(async () => {
    await Promise.all([hook?.close(), echo?.close(), slack?.close(), smtp?.close()]);
    await registry?.stop();
    tmp?.cleanup();
  });

  it('appear in no output, HTTP answer, message body or database byte', async () => {
    // check: first sighting, then an update, with every notifier (some failing).
    let r = await run(['check', '-c', config, '--json']);
    expect(r.code).toBe(1); // other.invalid fails, some notifiers fail
    await registry.pushImage('secret/app', '1', { seed: 'v2' });
    r = await run(['check', '-c', config, '--json']);
    expect(JSON.parse(r.stdout).images.find((i: { image: string }) => i.image === image).status).toBe('update');
    expect(hook.requests.length).toBeGreaterThan(0);
    expect(slack.requests.length).toBeGreaterThan(0);
    expect(smtp.messages.length).toBeGreaterThan(0);
    expect(echo.requests.length).toBeGreaterThan(0);

    // serve with its HTTP server: every route, with and without the token; then a bad reload.
    await registry.pushImage('secret/app', '1', { seed: 'v3' });
    const serve = await spawnServe(config, { env: { HERALD_LOG_LEVEL: 'debug' }, args: ['--log-level', 'debug'], timeoutMs: 20_000 });
    try {
      const said = () => `serve said:\n${serve.stderr().slice(-3000)}`;
      await until(() => /HTTP server listening on 127\.0\.0\.1:\d+/.test(serve.stderr()) && /run finished/.test(serve.stderr()), { what: 'the HTTP server and the first run', timeoutMs: 20_000, detail: said });
      const base = `http://${/HTTP server listening on (127\.0\.0\.1:\d+)/.exec(serve.stderr())![1]}`;
      await until(() => /notification sent.*"notifier":"chat"|"notifier":"chat".*notification sent/.test(serve.stderr()) || slack.requests.length >= 3, { what: 'the notification to chat', timeoutMs: 20_000, detail: said });
      const auth = { authorization: `Bearer ${secrets.apiToken}` };
      for (const [method, path, headers] of [
        ['GET', '/healthz', {}],
        ['GET', '/metrics', auth],
        ['GET', '/metrics', {}],
        ['GET', '/metrics', { authorization: `Bearer ${secrets.apiToken}x` }],
        ['GET', '/api/images', auth],
        ['GET', '/api/events?limit=1000', auth],
        ['GET', '/api/events', {}],
        ['GET', '/api/nothing', auth],
        ['POST', '/api/check', auth],
        ['DELETE', '/api/images', auth],
      ] as Array<[string, string, Record<string, string>]>) {
        const res = await fetch(base + path, { method, headers });
        record(`${method} ${path} (${headers.authorization === undefined ? 'no token' : 'token'})`, `${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
      }
      // A reload whose config has a new token and a broken webhook URL: rejected, old one kept.
      writeFileSync(config, readFileSync(config, 'utf8').replace(secrets.apiToken!, secrets.reloadToken!).replace(`${hook.url}/hook/`, `ftp://${secrets.brokenUrlToken}@/`));
      serve.child.kill('SIGHUP');
      await until(() => /config reload rejected/.test(serve.stderr()), { what: 'the reload to be rejected', timeoutMs: 20_000, detail: said });
      expect((await serve.stop()).code).toBe(0);
    } finally {
      await serve.kill();
      record('serve stdout', serve.stdout());
      record('serve stderr', serve.stderr());
    }
    writeFileSync(config, readFileSync(config, 'utf8').replace(`ftp://${secrets.brokenUrlToken}@/`, `${hook.url}/hook/`));

    // The read-only commands and notify test.
    for (const args of [
      ['images', 'list'], ['images', 'list', '--json'], ['images', 'inspect', image], ['images', 'inspect', image, '--json'],
      ['events'], ['events', '--json', '--limit', '100'], ['notify', 'test'], ['notify', 'test', '--json'], ['config', 'validate'],
    ]) {
      await run([...args, '-c', config]);
    }
    await run(['config', 'schema']);
    // Broken configs: the problem is named, the secret is not.
    r = await run(['config', 'validate', '-c', broken]);
    expect(r.code, r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n").slice(-1500)).toBe(2);
    r = await run(['check', '-c', broken]);
    expect(r.code, r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n").slice(-1500)).toBe(2);
    r = await run(['check', '-c', config], { HERALD_NOTIFIERS_0_URL: `gopher://x:${secrets.envUrlToken}@y/${secrets.envUrlToken}` });
    expect(r.code, r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n").slice(-1500)).toBe(2);
    r = await run(['config', 'validate', '-c', config], { HERALD_SERVER_TOKEN: '' , HERALD_NOTIFIERS_1_URL: `not a url ${secrets.envUrlToken}` });
    expect(r.code, r.stderr.split("\n").filter((l) => !l.startsWith("{")).join("\n").slice(-1500)).toBe(2);

    // What went out in message bodies (headers and URLs go to the receiver the user named).
    for (const req of [...hook.requests, ...echo.requests, ...slack.requests]) record(`body sent to ${req.path.split('/')[1]}`, req.body.toString('utf8'));
    for (const m of smtp.messages) record('mail', `${m.parsed.subject ?? ''}\n${m.parsed.text ?? ''}\n${typeof m.parsed.html === 'string' ? m.parsed.html : ''}`);
    // The database, byte for byte (events, deliveries and their last errors).
    for (const suffix of ['', '-wal']) {
      const file = join(tmp.dir, `herald.db${suffix}`);
      if (existsSync(file)) record(`herald.db${suffix}`, readFileSync(file).toString('latin1'));
    }

    // Sanity: the material is there (failures happened and were reported), so a clean sweep means something.
    const all = seen.map((s) => s.text).join('\n');
    expect(all).toMatch(/answered 500/);
    expect(all).toMatch(/webhook down/);
    expect(all).toMatch(/config reload rejected/);
    expect(all).toMatch(/herald_/); // metrics were served
    expect(all).toContain('registry request'); // debug logs were on

    const leaks: string[] = [];
    for (const [name, value] of Object.entries(secrets)) {
      for (const { where, text } of seen) {
        if (text.includes(value)) {
          const at = text.indexOf(value);
          leaks.push(`${name} in ${where}: …${text.slice(Math.max(0, at - 120), at + value.length + 40)}…`);
        }
      }
    }
    expect(leaks).toEqual([]);
    console.log(`secrets figures: ${JSON.stringify({ secrets: Object.keys(secrets).length, outputs: seen.length, bytes: all.length, leaked: leaks.length })}`);
  }, 180_000);
});
