/**
 * script: runs `command` (an argv list, no shell) once per delivery, in a process group of its
 * own, with the webhook body `{"version":1,"events":[…]}` on stdin and HERALD_EVENT_* variables.
 *
 * - exit 0: delivered. Exit 75 (EX_TEMPFAIL): try again later (retried like a 5xx). Any other
 *   exit, or death by a signal: failed for good, with the last line of its stderr.
 * - Past `timeout` the whole process group is killed (SIGKILL) and the delivery is retried.
 * - A command that cannot be started (not found, not executable) fails for good.
 * - The environment is not herald's: only PATH, HOME, LANG, LC_ALL, LC_CTYPE, TZ, TMPDIR and USER
 *   are passed on from herald's own, then the entry's `env` map (or `envFile`, a file of NAME=value
 *   lines, for secrets; redacted in logs), then the HERALD_* variables below, which always win.
 *
 * Variables: HERALD_DELIVERY_ID, HERALD_EVENT_COUNT, and the fields of the first event (the only
 * one unless batch: true): HERALD_EVENT_ID, _STATUS, _IMAGE, _REGISTRY, _REPOSITORY, _TAG, _DIGEST,
 * _PREVIOUS_DIGEST, _PLATFORM, _LINK, _ERROR, _CONTAINERS (names, comma separated) and _OUTDATED
 * (the names of the containers that run behind). An unknown value is the empty string.
 */
import { spawn } from 'node:child_process';
import { z } from 'zod';
import { oneLine } from '../../util/text.js';
import { duration } from '../../util/schema.js';
import { formatDuration } from '../../util/duration.js';
import type { HeraldEvent } from '../../model/event.js';
import { NotifyError, defineNotifier, notifierCommon, safeMessage, type ConfigProblem, type Notifier } from '../notifier.js';
import { eventLink } from '../template.js';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const scriptSchema = z
  .object({
    ...notifierCommon,
    type: z.literal('script'),
    command: z.array(z.string()).min(1, 'command must be a non-empty list: [program, arg…]'),
    timeout: duration.prefault('30s'),
    // A map, or (read from envFile) NAME=value lines.
    env: z.union([z.record(z.string().regex(ENV_NAME, 'must be an environment variable name'), z.string()), z.string()]).optional(),
    envFile: z.string().optional(),
  })
  .strict();

/** What herald passes on from its own environment; everything else (HERALD_* secrets…) stays behind. */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TMPDIR', 'USER'] as const;

export const EXIT_TEMPFAIL = 75;
const STDERR_KEEP = 4_096;
const ERROR_LINE_MAX = 200;

export const scriptModule = defineNotifier({
  schema: scriptSchema,
  secretKeys: ['env'],

  validate(config): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (config.command[0] === undefined || config.command[0].trim() === '') problems.push({ key: 'command', message: 'the program (the first item) must not be empty' });
    if (typeof config.env === 'string') {
      for (const problem of parseEnvLines(config.env).problems) problems.push({ key: config.envFile !== undefined ? 'envFile' : 'env', message: problem });
    }
    for (const key of ['templateTitle', 'templateBody'] as const) {
      if (config[key] !== undefined) problems.push({ key, message: 'script notifiers get the events as JSON on stdin; templates are not used' });
    }
    return problems;
  },

  create(config): Notifier {
    const label = `script ${config.name}`;
    const userEnv = typeof config.env === 'string' ? parseEnvLines(config.env).env : (config.env ?? {});
    const secrets = Object.values(userEnv);
    return {
      name: config.name,
      type: 'script',
      async send(msg) {
        const env: Record<string, string> = {};
        for (const name of INHERITED_ENV) {
          const value = process.env[name];
          if (value !== undefined) env[name] = value;
        }
        Object.assign(env, userEnv, scriptVariables(msg.deliveryId, msg.events));
        const stdin = JSON.stringify({ version: 1, events: msg.events });
        await runScript(label, config.command, { env, stdin, timeoutMs: config.timeout, secrets });
      },
      async close() {
        // Nothing outlives a send: each run ends (or is killed) within its timeout.
      },
    };
  },
});

/** The HERALD_* variables for a delivery: the count, and the first event's fields. */
export function scriptVariables(deliveryId: string, events: readonly HeraldEvent[]): Record<string, string> {
  const e = events[0]!;
  const containers = e.containers ?? [];
  return {
    HERALD_DELIVERY_ID: deliveryId,
    HERALD_EVENT_COUNT: String(events.length),
    HERALD_EVENT_ID: e.id,
    HERALD_EVENT_STATUS: e.status,
    HERALD_EVENT_IMAGE: e.image,
    HERALD_EVENT_REGISTRY: e.registry,
    HERALD_EVENT_REPOSITORY: e.repository,
    HERALD_EVENT_TAG: e.tag ?? '',
    HERALD_EVENT_DIGEST: e.digest ?? '',
    HERALD_EVENT_PREVIOUS_DIGEST: e.previousDigest ?? '',
    HERALD_EVENT_PLATFORM: e.platform,
    HERALD_EVENT_LINK: eventLink(e) ?? '',
    HERALD_EVENT_ERROR: oneLine(e.error ?? '', 1_000),
    HERALD_EVENT_CONTAINERS: containers.map((c) => c.name).join(','),
    HERALD_EVENT_OUTDATED: containers.filter((c) => c.outdated).map((c) => c.name).join(','),
  };
}

/** NAME=value lines (blank lines and # comments skipped, no quoting, no expansion). */
export function parseEnvLines(text: string): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const name = eq > 0 ? line.slice(0, eq).trim() : '';
    // Never the value: this file holds secrets.
    if (!ENV_NAME.test(name)) problems.push(`line ${i + 1} is not NAME=value`);
    else env[name] = line.slice(eq + 1);
  });
  return { env, problems };
}

interface RunOptions {
  env: Record<string, string>;
  stdin: string;
  timeoutMs: number;
  secrets: readonly string[];
}

/** Runs the command; resolves on exit 0, throws the NotifyError for anything else. */
export function runScript(label: string, command: readonly string[], opts: RunOptions): Promise<void> {
  const [program, ...args] = command;
  const fail = (text: string, permanent: boolean) => new NotifyError(safeMessage(`${label}: ${text}`, opts.secrets), { permanent });
  return new Promise<void>((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program ?? '', args, { detached: true, env: opts.env, stdio: ['pipe', 'ignore', 'pipe'], windowsHide: true });
    } catch (err) {
      reject(fail(`cannot run ${JSON.stringify(program)}: ${(err as Error).message}`, true));
      return;
    }
    let stderr = '';
    let timedOut = false;
    let settled = false;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    // A script that does not read its stdin closes the pipe: EPIPE is its business, not a failure.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(opts.stdin);

    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);

    const finish = (err?: NotifyError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === undefined) resolve();
      else reject(err);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Only a failed start reaches here (ENOENT, EACCES): retrying the same argv cannot help.
      finish(fail(`cannot run ${JSON.stringify(program)}: ${err.code ?? err.message}`, true));
    });
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      const last = lastLine(stderr);
      const why = last === '' ? '' : `: ${last}`;
      if (timedOut) {
        // Whatever the script left running in its group goes with it.
        killGroup();
        finish(fail(`killed after ${formatDuration(opts.timeoutMs)} (timeout)${why}`, false));
      } else if (code === 0) finish();
      else if (code === EXIT_TEMPFAIL) finish(fail(`exited with ${EXIT_TEMPFAIL} (try again later)${why}`, false));
      else if (code !== null) finish(fail(`exited with ${code}${why}`, true));
      else finish(fail(`killed by ${signal ?? 'a signal'}${why}`, true));
    };
    // 'close' waits for stderr to end; a child left behind holding it open must not stall the
    // delivery, so after 'exit' stderr gets a moment to drain, then the outcome stands.
    child.on('close', settle);
    child.on('exit', (code, signal) => {
      setTimeout(() => settle(code, signal), 250).unref();
    });
  });
}

function lastLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return oneLine(lines.at(-1) ?? '', ERROR_LINE_MAX);
}
