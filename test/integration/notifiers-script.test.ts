// script: real child processes (node, so nothing outside the repo is needed) run by the notifier
// and by a real Outbox over a real Store: stdin and HERALD_EVENT_* variables, an environment
// without herald's secrets, exit 75 retried and delivered once, a hung script killed with its
// children, and failures as one line with stderr's last line and no secret.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/util/log.js';
import { Store } from '../../src/store/index.js';
import { Outbox } from '../../src/notify/outbox.js';
import { notifierCatalog, notifierSchema } from '../../src/notify/notifiers/index.js';
import { sampleEvent } from '../../src/notify/sample.js';
import { batch, failure, makeNotifier, message, updateWithContainers } from './push-helpers.js';

let dir: string;
const HERALD_SECRET = 'herald-own-S3CRET-value-7731';
const ENV_SECRET = 'script-S3CRET-from-env-4242';

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'herald-script-'));
  process.env.HERALD_NOTIFIERS_0_PASSWORD = HERALD_SECRET;
  process.env.AWS_SECRET_ACCESS_KEY = HERALD_SECRET;
});
afterAll(() => {
  delete process.env.HERALD_NOTIFIERS_0_PASSWORD;
  delete process.env.AWS_SECRET_ACCESS_KEY;
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a node script into the temp dir; `out` is a file it may write to. */
function script(name: string, source: string): { file: string; out: string } {
  const file = path.join(dir, `${name}.mjs`);
  const out = path.join(dir, `${name}.out`);
  writeFileSync(file, `import fs from 'node:fs';\nconst OUT = ${JSON.stringify(out)};\n${source}\n`);
  return { file, out };
}

const RECORD = `
const stdin = fs.readFileSync(0, 'utf8');
fs.writeFileSync(OUT, JSON.stringify({ stdin: JSON.parse(stdin), env: process.env }));
`;

const scriptNotifier = (file: string, extra: Record<string, unknown> = {}) =>
  makeNotifier({ name: 'hook-script', type: 'script', command: [process.execPath, file, '--flag'], timeout: '10s', ...extra });

describe('script', () => {
  it('gets the webhook body on stdin and HERALD_EVENT_* variables, for the sample and a real update', async () => {
    const { file, out } = script('record', RECORD);
    const n = scriptNotifier(file, { env: { TEAM: 'web', API_TOKEN: ENV_SECRET } });
    const msg = message();
    await n.send(msg);
    let seen = JSON.parse(readFileSync(out, 'utf8')) as { stdin: unknown; env: Record<string, string> };
    expect(seen.stdin).toEqual({ version: 1, events: msg.events });
    expect(seen.env).toMatchObject({
      HERALD_DELIVERY_ID: msg.deliveryId, HERALD_EVENT_COUNT: '1', HERALD_EVENT_STATUS: 'update', HERALD_EVENT_IMAGE: 'docker.io/library/nginx:1.27',
      HERALD_EVENT_TAG: '1.27', HERALD_EVENT_DIGEST: msg.events[0]!.digest, HERALD_EVENT_PREVIOUS_DIGEST: msg.events[0]!.previousDigest,
      HERALD_EVENT_PLATFORM: 'linux/amd64', HERALD_EVENT_LINK: 'https://hub.docker.com/_/nginx', HERALD_EVENT_CONTAINERS: '', TEAM: 'web', API_TOKEN: ENV_SECRET,
    });
    await n.send(message([updateWithContainers(), ...batch(2)]));
    seen = JSON.parse(readFileSync(out, 'utf8')) as typeof seen;
    expect(seen.env).toMatchObject({ HERALD_EVENT_COUNT: '3', HERALD_EVENT_IMAGE: 'ghcr.io/acme/shop-api:2.4', HERALD_EVENT_CONTAINERS: 'shop-api-1,shop-api-2', HERALD_EVENT_OUTDATED: 'shop-api-1' });
    expect((seen.stdin as { events: unknown[] }).events).toHaveLength(3);
  });

  it("gets none of herald's environment beyond PATH, HOME, LANG…: no secret set there reaches it", async () => {
    const { file, out } = script('env', RECORD);
    await scriptNotifier(file).send(message());
    const { env } = JSON.parse(readFileSync(out, 'utf8')) as { env: Record<string, string> };
    expect(JSON.stringify(env)).not.toContain(HERALD_SECRET);
    expect(Object.keys(env).filter((k) => k.startsWith('HERALD_') && !k.startsWith('HERALD_EVENT_') && k !== 'HERALD_DELIVERY_ID')).toEqual([]);
    expect(env.PATH).toBe(process.env.PATH);
  });

  it('exit 75 once: retried by the outbox and delivered exactly once', async () => {
    const { file, out } = script('tempfail', `
const runs = fs.existsSync(OUT) ? Number(fs.readFileSync(OUT, 'utf8')) + 1 : 1;
fs.writeFileSync(OUT, String(runs));
if (runs === 1) { console.error('queue busy, try later'); process.exit(75); }
fs.appendFileSync(OUT + '.delivered', process.env.HERALD_DELIVERY_ID + '\\n');
`);
    const store = Store.open(path.join(dir, 'tempfail.db'));
    let clock = Date.now();
    try {
      const event = sampleEvent();
      const id = randomUUID();
      store.commitRun({ states: [], events: [event], deliveries: [{ id, notifier: 'hook-script', eventIds: [event.id] }] }, clock);
      const outbox = new Outbox({ store, notifiers: [scriptNotifier(file)], retry: { attempts: 5, minDelay: 1_000, maxDelay: 1_000 }, logger: silentLogger, now: () => clock });
      expect(await outbox.drain({ inlineRetryAfterMs: 10_000 })).toEqual({ sent: 0, retried: 1, failed: 0 });
      expect(store.deliveries.forEvent(event.id)[0]).toMatchObject({ status: 'pending', lastError: 'script hook-script: exited with 75 (try again later): queue busy, try later' });
      clock += 5_000;
      expect(await outbox.drain({ inlineRetryAfterMs: 10_000 })).toEqual({ sent: 1, retried: 0, failed: 0 });
      clock += 5_000;
      expect(await outbox.drain({ inlineRetryAfterMs: 10_000 })).toEqual({ sent: 0, retried: 0, failed: 0 });
      expect(store.deliveries.forEvent(event.id)[0]).toMatchObject({ status: 'sent', attempts: 2 });
      expect(readFileSync(out, 'utf8')).toBe('2');
      expect(readFileSync(`${out}.delivered`, 'utf8')).toBe(`${id}\n`);
    } finally {
      store.close();
    }
  });

  it('is killed with its children past its timeout, and retried', async () => {
    const { file, out } = script('hang', `
import { spawn } from 'node:child_process';
const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
fs.writeFileSync(OUT, JSON.stringify([process.pid, child.pid]));
console.error('started, now hanging');
setInterval(() => {}, 1000);
`);
    const started = Date.now();
    const err = await failure(scriptNotifier(file, { timeout: '1s' }).send(message()), []);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err).toMatchObject({ permanent: false, message: 'script hook-script: killed after 1s (timeout): started, now hanging' });
    const pids = JSON.parse(readFileSync(out, 'utf8')) as number[];
    expect(pids).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const pid of pids) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it('fails permanently with the last line of stderr, one line, without secrets; a missing command too', async () => {
    const { file } = script('fail', `console.error('connecting…\\nerror: auth failed with token ${ENV_SECRET}\\n'); process.exit(3);`);
    const err = await failure(scriptNotifier(file, { env: { API_TOKEN: ENV_SECRET } }).send(message()), [ENV_SECRET]);
    expect(err).toMatchObject({ permanent: true, message: 'script hook-script: exited with 3: error: auth failed with token ***' });
    const long = script('long', `console.error('x'.repeat(10000)); process.exit(1);`);
    expect((await failure(scriptNotifier(long.file).send(message()), [])).message.length).toBeLessThan(300);
    const missing = await failure(makeNotifier({ name: 'gone', type: 'script', command: [path.join(dir, 'no-such-program')] }).send(message()), []);
    expect(missing).toMatchObject({ permanent: true, message: `script gone: cannot run "${path.join(dir, 'no-such-program')}": ENOENT` });
  });

  it('checks its config: a non-empty command list, no templates, NAME=value lines in envFile', () => {
    expect(notifierSchema.safeParse({ name: 's', type: 'script', command: [] }).success).toBe(false);
    expect(notifierSchema.safeParse({ name: 's', type: 'script', command: 'echo hi' }).success).toBe(false);
    const entry = notifierSchema.parse({ name: 's', type: 'script', command: [''], templateBody: 'x', env: 'GOOD=1\nthis is not a line\n# comment' });
    expect(notifierCatalog.validate(entry).map((p) => `${p.key}: ${p.message}`)).toEqual([
      'command: the program (the first item) must not be empty',
      'env: line 2 is not NAME=value',
      'templateBody: script notifiers get the events as JSON on stdin; templates are not used',
    ]);
    expect(existsSync(dir)).toBe(true);
  });
});

/** Whether a process exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
