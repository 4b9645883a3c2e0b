/**
 * herald as a person runs it in a terminal: the real bin/herald under a real pseudo-terminal
 * (util-linux `script`), against a real registry. `check` prints its table and one summary line,
 * and nothing else; a log entry is one line; and without a terminal the JSON logs and `--json`
 * are what scripts and log collectors have always read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { HERALD, ROOT, herald, registryEntry, tempDir, writeConfig } from './helpers.js';

interface TerminalResult {
  code: number | null;
  /** What the terminal showed, colours removed, one entry per line. */
  lines: string[];
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `herald <args>` with stdout and stderr on one pseudo-terminal, as in an interactive shell.
 * `shellSuffix` is added to the command line (e.g. `2>/dev/null`). `interact` gets the output so
 * far on every change and may type into the terminal (e.g. Ctrl-C).
 */
function inTerminal(
  args: string[],
  opts: { shellSuffix?: string; interact?: (output: string, type: (keys: string) => void) => void; timeoutMs?: number } = {},
): Promise<TerminalResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  for (const k of Object.keys(env)) if (k.startsWith('HERALD_')) delete env[k];
  const command = `exec ${[process.execPath, HERALD, ...args].map(quote).join(' ')}${opts.shellSuffix ? ` ${opts.shellSuffix}` : ''}`;
  // -q: no start/done lines; -e: script exits with herald's code; -f: flush as it comes.
  const child = spawn('script', ['-qefc', command, '/dev/null'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    let problems = '';
    const type = (keys: string): void => void child.stdin.write(keys);
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString('utf8');
      opts.interact?.(output, type);
    });
    child.stderr.on('data', (d: Buffer) => (problems += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (problems !== '') return reject(new Error(`script: ${problems}`));
      // Colours off; a typed Ctrl-C is echoed as ^C at the start of the next line.
      const text = output.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r\n/g, '\n').replace(/^\^C/gm, '');
      resolve({ code, lines: text.split('\n').filter((l) => l !== '') });
    });
  });
}

/** A pretty log entry's line: `[2026-12-07 18:55:22.123 +0000] INFO: message {fields}`. */
const LOG_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d{4}\] (TRACE|DEBUG|INFO|WARN|ERROR|FATAL): /;

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A row of check's table. */
function row(image: string, status: string, detail = ''): RegExp {
  return new RegExp(`^${escape(image)}\\s+linux/\\S+\\s+${status}\\s+[0-9a-f]{12}${detail === '' ? '' : `\\s+${detail}`}$`);
}
const HEADER = /^IMAGE\s+PLATFORM\s+STATUS\s+DIGEST\s+DETAIL$/;

function jsonLines(stderr: string): Array<Record<string, unknown>> {
  return stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('herald in a terminal', () => {
  let registry: TestRegistry;
  let tmp: ReturnType<typeof tempDir>;
  let app: string;
  let other: string;
  let dbs = 0;

  /** A config for both images on a database of its own. */
  function config(extra: string[] = []): string {
    const n = dbs++;
    return writeConfig(
      tmp.dir,
      [
        `db: { path: ${join(tmp.dir, `db${n}`, 'herald.db')} }`,
        'registries:',
        registryEntry('local', registry.host, registry),
        'images:',
        `  - name: ${app}`,
        `  - name: ${other}`,
        ...extra,
      ].join('\n'),
      `herald-${n}.yml`,
    );
  }

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'none' });
    tmp = tempDir();
    app = `${registry.host}/team/app:1.0`;
    other = `${registry.host}/team/other:latest`;
    await registry.pushImage('team/app', '1.0', { seed: 'app-1' });
    await registry.pushImage('team/other', 'latest', { seed: 'other-1' });
  });

  afterAll(async () => {
    await registry?.stop();
    tmp?.cleanup();
  });

  it('check prints the table and one summary line, and nothing else; "1 image", "2 images"', async () => {
    const file = config();
    const first = await inTerminal(['check', '-c', file]);
    expect(first.code, first.lines.join('\n')).toBe(0);
    expect(first.lines).toEqual([
      expect.stringMatching(HEADER),
      expect.stringMatching(row(app, 'new')),
      expect.stringMatching(row(other, 'new')),
      expect.stringMatching(/^checked 2 images in \d+ ms: 2 new$/),
    ]);

    const one = await inTerminal(['check', '-c', file, '--image', app]);
    expect(one.code, one.lines.join('\n')).toBe(0);
    expect(one.lines).toEqual([
      expect.stringMatching(HEADER),
      expect.stringMatching(row(app, 'unchanged')),
      expect.stringMatching(/^checked 1 image in \d+ ms: 1 unchanged$/),
    ]);

    // A failing image: its table row, one warning line, and the summary.
    const broken = writeConfig(
      tmp.dir,
      [`db: { path: ${join(tmp.dir, 'broken', 'herald.db')} }`, 'registries:', registryEntry('local', registry.host, registry), 'images:', `  - name: ${registry.host}/team/absent:1`].join('\n'),
      'broken.yml',
    );
    const failed = await inTerminal(['check', '-c', broken]);
    expect(failed.code).toBe(1);
    expect(failed.lines.filter((l) => LOG_LINE.test(l))).toEqual([expect.stringMatching(/WARN: check failed: .*team\/absent:1.* \{"image":".*team\/absent:1","platform":"linux\/\S+"\}$/)]);
    expect(failed.lines.filter((l) => !LOG_LINE.test(l))).toEqual([
      expect.stringMatching(HEADER),
      expect.stringMatching(new RegExp(`^${escape(registry.host)}/team/absent:1\\s+linux/\\S+\\s+error\\s+-\\s+\\S.*$`)),
      expect.stringMatching(/^checked 1 image in \d+ ms: 1 failed$/),
    ]);
  });

  it('every log entry is one line, even at debug level', async () => {
    const file = config();
    expect((await inTerminal(['check', '-c', file])).code).toBe(0);
    const pushed = await registry.pushImage('team/app', '1.0', { seed: 'app-2' });
    const r = await inTerminal(['--log-level', 'debug', 'check', '-c', file]);
    expect(r.code, r.lines.join('\n')).toBe(0);
    const logs = r.lines.filter((l) => LOG_LINE.test(l));
    expect(r.lines.filter((l) => !LOG_LINE.test(l))).toEqual([
      expect.stringMatching(HEADER),
      expect.stringMatching(row(app, 'update', `was [0-9a-f]{12}`)),
      expect.stringMatching(row(other, 'unchanged')),
      expect.stringMatching(/^checked 2 images in \d+ ms: 1 updated, 1 unchanged$/),
    ]);
    // The per-image lines and the run's own line are there, at debug, each with its fields on the same line.
    expect(logs).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`DEBUG: update \\{"image":"${escape(app)}","platform":"linux/\\S+","digest":"${pushed.digest}","previousDigest":"sha256:[0-9a-f]{64}"\\}$`)),
      expect.stringMatching(new RegExp(`DEBUG: unchanged \\{"image":"${escape(other)}"`)),
      expect.stringMatching(/DEBUG: registry request \{"method":"HEAD",/),
      expect.stringMatching(/DEBUG: run finished: 2 images, 0 new, 1 updated, 0 failed in \d+ ms \{"images":2,/),
    ]));
  });

  it('without a terminal the log is JSON lines with the same fields as before; the first check and update lines are debug', async () => {
    const file = config();
    const first = await herald(['check', '-c', file]);
    expect(first.code, first.stderr).toBe(0);
    // stdout, not a terminal either, still has the table and the summary.
    expect(first.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(HEADER), expect.stringMatching(row(app, 'new')), expect.stringMatching(row(other, 'new')),
      expect.stringMatching(/^checked 2 images in \d+ ms: 2 new$/),
    ]);
    const [finished, ...more] = jsonLines(first.stderr);
    expect(more).toEqual([]);
    expect(Object.keys(finished!)).toEqual(['level', 'time', 'images', 'new', 'update', 'unchanged', 'error', 'skipped', 'events', 'notifications', 'durationMs', 'msg']);
    expect(finished).toMatchObject({ level: 30, images: 2, new: 2, update: 0, unchanged: 0, error: 0, skipped: 0, events: 2, notifications: 0 });
    expect(finished!.msg).toBe(`run finished: 2 images, 2 new, 0 updated, 0 failed in ${finished!.durationMs as number} ms`);

    const pushed = await registry.pushImage('team/other', 'latest', { seed: 'other-2' });
    const debug = await herald(['--log-level', 'debug', 'check', '-c', file, '--image', other]);
    expect(debug.code, debug.stderr).toBe(0);
    const lines = jsonLines(debug.stderr);
    const update = lines.find((l) => l.msg === 'update');
    expect(Object.keys(update!)).toEqual(['level', 'time', 'image', 'platform', 'digest', 'previousDigest', 'msg']);
    expect(update).toMatchObject({ level: 20, image: other, digest: pushed.digest });
    expect(lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('run finished'))).toMatchObject({
      level: 30, images: 1, update: 1, msg: expect.stringMatching(/^run finished: 1 image, 0 new, 1 updated, 0 failed in \d+ ms$/),
    });

    const fresh = await herald(['--log-level', 'debug', 'check', '-c', config()]);
    const firstChecks = jsonLines(fresh.stderr).filter((l) => l.msg === 'first check');
    expect(firstChecks.map((l) => Object.keys(l))).toEqual([0, 1].map(() => ['level', 'time', 'image', 'platform', 'digest', 'msg']));
    expect(firstChecks.map((l) => [l.level, l.image]).sort()).toEqual([[20, app], [20, other]].sort());
  });

  it('check --json prints the same report in a terminal and outside one', async () => {
    const file = config();
    const outside = await herald(['check', '-c', file, '--json']);
    expect(outside.code, outside.stderr).toBe(0);
    const inside = await inTerminal(['check', '-c', file, '--json'], { shellSuffix: '2>/dev/null' });
    expect(inside.code).toBe(0);
    for (const report of [JSON.parse(outside.stdout), JSON.parse(inside.lines.join('\n'))]) {
      expect(Object.keys(report)).toEqual(['startedAt', 'durationMs', 'images', 'events', 'deliveries']);
      expect(report.images.map((i: object) => Object.keys(i))).toEqual([0, 1].map(() => ['image', 'platform', 'status', 'digest', 'previousDigest', 'error']));
      expect(Object.keys(report.deliveries)).toEqual(['sent', 'pending', 'failed']);
    }
    expect(JSON.parse(outside.stdout).images.map((i: { status: string }) => i.status)).toEqual(['new', 'new']);
    expect(JSON.parse(inside.lines.join('\n')).images.map((i: { status: string }) => i.status)).toEqual(['unchanged', 'unchanged']);
    // The log still goes to the terminal with --json, on stderr: there the run's line stays info.
    const both = await inTerminal(['check', '-c', file, '--json']);
    expect(both.lines.filter((l) => LOG_LINE.test(l))).toEqual([expect.stringMatching(/INFO: run finished: 2 images, 0 new, 0 updated, 0 failed in \d+ ms \{/)]);
  });

  describe('with a webhook', () => {
    let sink: HttpSink;
    beforeAll(async () => {
      sink = await startHttpSink();
    });
    afterAll(async () => {
      await sink?.close();
    });

    it('the summary line counts the notifications: "1 notification sent, 1 pending"', async () => {
      const file = config(['watch: { firstCheckNotify: true }', 'notifiers:', `  - { name: hook, type: webhook, url: "${sink.url}/hook" }`]);
      sink.enqueue({ status: 503 });
      const r = await inTerminal(['check', '-c', file]);
      expect(r.code).toBe(1);
      expect(sink.requests).toHaveLength(2);
      expect(r.lines.filter((l) => !LOG_LINE.test(l))).toEqual([
        expect.stringMatching(HEADER), expect.stringMatching(row(app, 'new')), expect.stringMatching(row(other, 'new')),
        expect.stringMatching(/^checked 2 images in \d+ ms: 2 new; 1 notification sent, 1 pending$/),
      ]);
      const logs = r.lines.filter((l) => LOG_LINE.test(l));
      expect(logs).toEqual(expect.arrayContaining([
        expect.stringMatching(/INFO: notification sent \{"delivery":"[^"]+","notifier":"hook",/),
        expect.stringMatching(/WARN: notification failed, will retry: .*503.* \{"delivery":"[^"]+","notifier":"hook",.*\}$/),
      ]));
      expect(logs).toHaveLength(2);
    });
  });

  it('serve logs one line per entry, and Ctrl-C stops it cleanly', async () => {
    const file = config(['watch: { schedule: "0 0 1 1 *", runOnStartup: true, jitter: 0 }']);
    let pressed = false;
    const r = await inTerminal(['serve', '-c', file], {
      interact: (output, type) => {
        if (!pressed && /run finished/.test(output)) {
          pressed = true;
          type('\x03');
        }
      },
    });
    expect(pressed, r.lines.join('\n')).toBe(true);
    expect(r.code, r.lines.join('\n')).toBe(0);
    for (const line of r.lines) expect(line).toMatch(LOG_LINE);
    expect(r.lines.map((l) => l.replace(LOG_LINE, '').replace(/ \{.*\}$/, ''))).toEqual([
      'herald serve started',
      'scheduler started',
      expect.stringMatching(/^run finished: 2 images, 2 new, 0 updated, 0 failed in \d+ ms$/),
      'stopping',
      'stopped',
    ]);
  });
});
