/**
 * Where the Kubernetes source finds its cluster and credentials. Read again on every run: the
 * service account token rotates (about hourly), a tokenFile is rewritten by whoever issues it, and a
 * kubeconfig may be edited while herald runs.
 *
 * Order, as the source's doc states it:
 * 1. the source's `kubeconfig` key (relative to the config file's folder, `~/` the home folder);
 * 2. else, inside a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT set, as the kubelet
 *    sets them in every pod) and no `context` key: the pod's service account, its token and ca.crt;
 * 3. else $KUBECONFIG (files separated by ':', merged as kubectl merges them: the first file that
 *    names a cluster, user or context wins), else ~/.kube/config.
 * The context's `namespace` is not used: the source's `namespaces` key says what is listed.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { fsReason } from '../util/fs.js';
import { KubeProblem, readKubeconfig, text, type Kubeconfig } from './kubeconfig.js';
import { execCredential, type ExecCache } from './kubernetes-exec.js';

/** The kubelet mounts the pod's service account here (token, ca.crt, namespace). */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * What the source reads from its process. Tests pass their own (a fake service account folder, a
 * KUBERNETES_SERVICE_HOST pointing at a fixture) instead of changing process.env. Not an env var:
 * herald reads every HERALD_* variable as a config override.
 */
export interface KubernetesEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  serviceAccountDir: string;
  homeDir: string;
}

export function processEnvironment(): KubernetesEnvironment {
  return { env: process.env, serviceAccountDir: SERVICE_ACCOUNT_DIR, homeDir: homedir() };
}

export interface TlsMaterial {
  /** PEM; replaces the system CAs, as kubectl does when the kubeconfig names a CA. */
  ca?: string;
  cert?: string;
  key?: string;
  /** The kubeconfig's insecure-skip-tls-verify: the user's explicit choice, as kubectl honours it. */
  insecure: boolean;
  /** The kubeconfig's tls-server-name: the name the certificate is checked against. */
  servername?: string;
}

export interface ClusterAccess {
  /** The API server's base URL; it may carry a path (a proxy such as Rancher's /k8s/clusters/ID). */
  server: URL;
  tls: TlsMaterial;
  /** The Authorization header, or undefined (client certificate only, or anonymous). */
  authorization: string | undefined;
  /** Values no message may show: the token, the password. */
  secrets: string[];
}

export interface AccessOptions {
  kubeconfig?: string | undefined;
  context?: string | undefined;
  /** The config file's folder: a relative `kubeconfig` resolves against it. */
  dir: string;
  /** For an exec plugin's run. */
  timeoutMs: number;
  /** Exec plugins' credentials, kept until they expire. */
  execCache: ExecCache;
}

export async function resolveAccess(opts: AccessOptions, environment: KubernetesEnvironment): Promise<ClusterAccess> {
  const home = environment.homeDir;
  if (opts.kubeconfig !== undefined) {
    const file = expandHome(opts.kubeconfig, opts.dir, home);
    const explicit = await readKubeconfig([file], true);
    // (required: a missing file has thrown already, naming the OS reason)
    if (explicit === undefined) throw new KubeProblem(`cannot read kubeconfig ${file}`);
    return fromKubeconfig(explicit, opts, environment);
  }
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port, KUBECONFIG: list } = environment.env;
  if (host && port && opts.context === undefined) return fromServiceAccount(host, port, environment.serviceAccountDir);
  const files = list ? list.split(path.delimiter).filter((file) => file !== '').map((file) => expandHome(file, process.cwd(), home)) : [path.join(home, '.kube', 'config')];
  const loaded = await readKubeconfig(files, false);
  if (loaded !== undefined) return fromKubeconfig(loaded, opts, environment);
  const why = host ? 'the context key needs a kubeconfig' : 'not in a cluster (KUBERNETES_SERVICE_HOST is not set)';
  throw new KubeProblem(`no cluster to list: ${why}, no kubeconfig key, and ${list ? `no file of $KUBECONFIG exists (${files.join(', ')})` : `$KUBECONFIG is not set and ${files[0]} does not exist`}`);
}

/** `~/x` is in the home folder; a relative path is relative to `base`. */
export function expandHome(file: string, base: string, home: string): string {
  if (file === '~') return home;
  if (file.startsWith('~/')) return path.join(home, file.slice(2));
  return path.resolve(base, file);
}

async function fromServiceAccount(host: string, port: string, dir: string): Promise<ClusterAccess> {
  const tokenFile = path.join(dir, 'token');
  const caFile = path.join(dir, 'ca.crt');
  const why = '(KUBERNETES_SERVICE_HOST is set: herald runs in a pod, whose service account must be mounted)';
  const token = (await readText(tokenFile, `cannot read the service account token ${tokenFile} ${why}`)).trim();
  if (token === '') throw new KubeProblem(`the service account token ${tokenFile} is empty`);
  const ca = await readText(caFile, `cannot read the service account CA ${caFile} ${why}`);
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return { server, tls: { ca, insecure: false }, authorization: `Bearer ${token}`, secrets: [token] };
}

async function fromKubeconfig(config: Kubeconfig, opts: AccessOptions, environment: KubernetesEnvironment): Promise<ClusterAccess> {
  const where = `kubeconfig ${config.label}`;
  const contextName = opts.context ?? config.currentContext;
  if (contextName === undefined) throw new KubeProblem(`${where} has no current-context; name one with the source's context key`);
  const context = config.contexts.get(contextName);
  if (context === undefined) {
    const known = [...config.contexts.keys()];
    throw new KubeProblem(`${where} has no context "${contextName}" (${known.length === 0 ? 'it has none' : `it has: ${known.join(', ')}`})`);
  }
  const clusterName = text(context.value.cluster);
  if (clusterName === undefined) throw new KubeProblem(`${where}: context "${contextName}" names no cluster`);
  const cluster = config.clusters.get(clusterName);
  if (cluster === undefined) throw new KubeProblem(`${where}: context "${contextName}" names cluster "${clusterName}", which it does not define`);
  const c = cluster.value;
  const at = `${where}: cluster "${clusterName}"`;
  const serverText = text(c.server);
  if (serverText === undefined) throw new KubeProblem(`${at} has no server`);
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    throw new KubeProblem(`${at}: server "${serverText}" is not a URL`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw new KubeProblem(`${at}: server must be an https:// URL, not ${server.protocol}`);
  if (text(c['proxy-url']) !== undefined) throw new KubeProblem(`${at}: proxy-url is not supported; herald connects to the server directly`);
  const home = environment.homeDir;
  const ca = await pem(at, 'certificate-authority', c, cluster.dir, home, 'certificate');
  const tls: TlsMaterial = {
    insecure: c['insecure-skip-tls-verify'] === true,
    ...(ca !== undefined ? { ca } : {}),
    ...(text(c['tls-server-name']) !== undefined ? { servername: text(c['tls-server-name']) } : {}),
  };

  const userName = text(context.value.user);
  const user = userName === undefined ? undefined : config.users.get(userName);
  if (userName !== undefined && user === undefined) throw new KubeProblem(`${where}: context "${contextName}" names user "${userName}", which it does not define`);
  if (user === undefined) return { server, tls, authorization: undefined, secrets: [] };
  const u = user.value;
  const us = `${where}: user "${userName}"`;
  const provider = u['auth-provider'];
  if (provider !== undefined) {
    const name = text((provider as Record<string, unknown> | null)?.name) ?? '?';
    throw new KubeProblem(`${us}: auth-provider "${name}" is not supported (Kubernetes removed them; use an exec plugin or a token)`);
  }
  if (u.exec !== undefined) {
    const credential = await execCredential(u.exec, { label: us, dir: user.dir, server, cache: opts.execCache, timeoutMs: opts.timeoutMs, env: environment.env });
    const withCert = credential.cert !== undefined ? { ...tls, cert: credential.cert, key: credential.key } : tls;
    return { server, tls: withCert, authorization: credential.token !== undefined ? `Bearer ${credential.token}` : undefined, secrets: credential.token !== undefined ? [credential.token] : [] };
  }
  const cert = await pem(us, 'client-certificate', u, user.dir, home, 'certificate');
  const key = await pem(us, 'client-key', u, user.dir, home, 'key');
  if ((cert === undefined) !== (key === undefined)) throw new KubeProblem(`${us}: a client certificate needs both client-certificate and client-key`);
  const withCert = cert !== undefined && key !== undefined ? { ...tls, cert, key } : tls;

  const tokenFile = text(u.tokenFile);
  // A tokenFile wins over token: it is the one that is kept fresh (client-go reads it the same way).
  const token = tokenFile !== undefined ? (await readText(expandHome(tokenFile, user.dir, home), `${us}: cannot read tokenFile ${tokenFile}`)).trim() : text(u.token);
  if (token !== undefined && token !== '') return { server, tls: withCert, authorization: `Bearer ${token}`, secrets: [token] };
  const username = text(u.username);
  const password = text(u.password);
  if (username !== undefined && password !== undefined) {
    const basic = Buffer.from(`${username}:${password}`).toString('base64');
    return { server, tls: withCert, authorization: `Basic ${basic}`, secrets: [password, basic] };
  }
  return { server, tls: withCert, authorization: undefined, secrets: [] };
}

/**
 * A PEM from `<key>-data` (base64) or the file `<key>` (relative to the kubeconfig's folder), checked
 * here so a wrong one is named by its key, not reported later as an obscure TLS failure. The
 * message never shows the content.
 */
async function pem(at: string, key: string, holder: Record<string, unknown>, dir: string, home: string, kind: 'certificate' | 'key'): Promise<string | undefined> {
  const data = text(holder[`${key}-data`]);
  const file = text(holder[key]);
  let content: string;
  if (data !== undefined) content = Buffer.from(data, 'base64').toString('utf8');
  else if (file !== undefined) content = await readText(expandHome(file, dir, home), `${at}: cannot read ${key} ${file}`);
  else return undefined;
  const from = data !== undefined ? `${key}-data` : `${key} ${file}`;
  try {
    if (kind === 'certificate') new X509Certificate(content);
    else createPrivateKey(content);
  } catch {
    throw new KubeProblem(`${at}: ${from} is not a PEM ${kind === 'certificate' ? 'certificate' : 'private key'}`);
  }
  return content;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new KubeProblem(`${what}: ${fsReason(err)}`);
  }
}
