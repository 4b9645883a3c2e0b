/**
 * kubeconfig `exec` credential plugins (client.authentication.k8s.io v1 and v1beta1), the way
 * managed clusters hand out tokens: `aws eks get-token`, `gke-gcloud-auth-plugin`, `kubelogin`.
 * The plugin is run without a terminal (herald has none): a plugin that needs one
 * (`interactiveMode: Always`) is refused with one line. Its credential is kept until its
 * expirationTimestamp; one without an expiry is asked for again on every run, which is rare enough
 * (one listing per run) to cost nothing and never holds on to a revoked token.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { formatDuration } from '../util/duration.js';
import { isPlainObject, oneLine } from '../util/text.js';
import { KubeProblem, text } from './kubeconfig.js';

export interface ExecCredential {
  token?: string;
  cert?: string;
  key?: string;
}

/** Credentials by plugin (its command, arguments, env and the server), with when they expire. */
export type ExecCache = Map<string, { credential: ExecCredential; expiresAt: number }>;

export interface ExecContext {
  /** `kubeconfig FILE: user "NAME"`, for messages. */
  label: string;
  /** The kubeconfig's folder: a command with a '/' in it is relative to it. */
  dir: string;
  server: URL;
  cache: ExecCache;
  timeoutMs: number;
  env: Readonly<Record<string, string | undefined>>;
}

const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
/** A credential that expires within this is asked for again rather than used for a whole listing. */
const EXPIRY_MARGIN_MS = 60_000;
const MAX_OUTPUT = 1024 * 1024;

export async function execCredential(config: unknown, ctx: ExecContext): Promise<ExecCredential> {
  if (!isPlainObject(config)) throw new KubeProblem(`${ctx.label}: exec is not a map`);
  const command = text(config.command);
  if (command === undefined) throw new KubeProblem(`${ctx.label}: exec has no command`);
  const apiVersion = text(config.apiVersion) ?? '';
  if (!API_VERSIONS.includes(apiVersion)) throw new KubeProblem(`${ctx.label}: exec apiVersion "${apiVersion}" is not supported (herald speaks ${API_VERSIONS.join(', ')})`);
  if (text(config.interactiveMode) === 'Always') throw new KubeProblem(`${ctx.label}: exec plugin "${command}" needs a terminal (interactiveMode: Always), which herald does not have`);
  const args = Array.isArray(config.args) ? config.args.map((arg) => String(arg)) : [];
  const extraEnv: Record<string, string> = {};
  if (Array.isArray(config.env)) {
    for (const item of config.env) {
      const name = isPlainObject(item) ? text(item.name) : undefined;
      if (name !== undefined && isPlainObject(item)) extraEnv[name] = text(item.value) ?? '';
    }
  }
  const key = JSON.stringify([command, args, extraEnv, ctx.server.href]);
  const cached = ctx.cache.get(key);
  if (cached !== undefined && cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return cached.credential;

  const info = {
    apiVersion,
    kind: 'ExecCredential',
    spec: { interactive: false, ...(config.provideClusterInfo === true ? { cluster: { server: ctx.server.href } } : {}) },
  };
  // client-go's rule: a command with a path separator is relative to the kubeconfig; a bare name is looked up in PATH.
  const file = command.includes('/') ? path.resolve(ctx.dir, command) : command;
  const stdout = await run(file, args, { ...ctx.env, ...extraEnv, KUBERNETES_EXEC_INFO: JSON.stringify(info) }, command, config, ctx);
  const { credential, expiresAt } = readCredential(stdout, apiVersion, command, ctx.label);
  if (Number.isFinite(expiresAt)) ctx.cache.set(key, { credential, expiresAt });
  else ctx.cache.delete(key);
  return credential;
}

function run(file: string, args: string[], env: Record<string, string | undefined>, command: string, config: Record<string, unknown>, ctx: ExecContext): Promise<string> {
  const plugin = `${ctx.label}: exec plugin "${command}"`;
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: ctx.timeoutMs, maxBuffer: MAX_OUTPUT, encoding: 'utf8', windowsHide: true }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: string | number | null };
      if (e.code === 'ENOENT') {
        const hint = text(config.installHint);
        return reject(new KubeProblem(`${plugin} not found${hint !== undefined ? `: ${oneLine(hint, 200)}` : ''}`));
      }
      if (e.killed === true && e.signal === 'SIGTERM') return reject(new KubeProblem(`${plugin} did not finish within ${formatDuration(ctx.timeoutMs)}`));
      if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return reject(new KubeProblem(`${plugin} printed more than ${MAX_OUTPUT} bytes`));
      // The plugin's last words say why (expired login, no profile); its stdout may hold a token and is not shown.
      const lastLine = stderr.split('\n').map((line) => line.trim()).filter((line) => line !== '').at(-1);
      const exit = typeof e.code === 'number' ? `exit ${e.code}` : e.signal ? `signal ${e.signal}` : String(e.code ?? 'failed');
      reject(new KubeProblem(`${plugin} failed (${exit})${lastLine !== undefined ? `: ${oneLine(lastLine, 200)}` : ''}`));
    });
  });
}

/** The credential, and when it expires (NaN: no expiry given). */
function readCredential(stdout: string, apiVersion: string, command: string, label: string): { credential: ExecCredential; expiresAt: number } {
  const plugin = `${label}: exec plugin "${command}"`;
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new KubeProblem(`${plugin} did not print an ExecCredential (not JSON)`);
  }
  if (!isPlainObject(doc) || doc.kind !== 'ExecCredential' || !isPlainObject(doc.status)) throw new KubeProblem(`${plugin} did not print an ExecCredential with a status`);
  if (doc.apiVersion !== apiVersion) throw new KubeProblem(`${plugin} answered apiVersion "${String(doc.apiVersion)}", not the "${apiVersion}" asked for`);
  const token = text(doc.status.token);
  const cert = text(doc.status.clientCertificateData);
  const key = text(doc.status.clientKeyData);
  if ((cert === undefined) !== (key === undefined)) throw new KubeProblem(`${plugin} gave a client certificate without its key, or a key without its certificate`);
  if (token === undefined && cert === undefined) throw new KubeProblem(`${plugin} gave neither a token nor a client certificate`);
  const credential = { ...(token !== undefined ? { token } : {}), ...(cert !== undefined && key !== undefined ? { cert, key } : {}) };
  return { credential, expiresAt: Date.parse(text(doc.status.expirationTimestamp) ?? '') };
}
