/**
 * The Kubernetes source against a stand-in API server over real TLS (fixtures/kubernetes.ts): where
 * the credentials come from (the in-cluster service account, a kubeconfig with a token, a client
 * certificate or an exec plugin, $KUBECONFIG, ~), and how a failure reads: one line naming the
 * source, never the token. What the listing makes of pods: kubernetes-listing.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { startKubernetes, type FakeCluster } from '../../fixtures/kubernetes.js';
import { freePort, listenOnLoopback } from '../../fixtures/ports.js';
import type { ImageSource } from '../../src/sources/source.js';
import { kubeconfig, LIST, listError, sourceFactory } from './kubernetes-helpers.js';
import { tempDir, until } from './helpers.js';

const TOKEN = 'k8s-secret-token-0123456789abcdef';
const SA_USER = 'system:serviceaccount:herald:herald';
let cluster: FakeCluster;
let dir: string;
let cleanup: () => void;
let source: ReturnType<typeof sourceFactory>['source'];
let closeAll: () => Promise<void>;

beforeAll(async () => {
  cluster = await startKubernetes();
  ({ dir, cleanup } = tempDir('herald-k8s-'));
  ({ source, closeAll } = sourceFactory(dir));
  cluster.tokens.set(TOKEN, SA_USER);
  writeFileSync(join(dir, 'ca.crt'), cluster.pki.caPem);
  writeFileSync(join(dir, 'client.crt'), cluster.pki.clientCertPem);
  writeFileSync(join(dir, 'client.key'), cluster.pki.clientKeyPem);
  cluster.addPods({ name: 'web-1', namespace: 'apps', annotations: { 'herald.enable': 'true' }, containers: [{ name: 'nginx', image: 'nginx:1.27' }] });
});

afterAll(async () => {
  await closeAll();
  await cluster.stop();
  cleanup();
});

const lastRequest = () => cluster.requests.at(-1)!;
const names = async (s: ImageSource) => (await s.list(LIST)).images.map((i) => i.ref.name);

describe('in a cluster: the service account', () => {
  const env = () => ({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(cluster.port) });

  it('lists with its token and CA, and reads the token again on every run (it rotates)', async () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa, { recursive: true });
    writeFileSync(join(sa, 'token'), `${TOKEN}\n`);
    writeFileSync(join(sa, 'ca.crt'), cluster.pki.caPem);
    const s = source({}, { env: env(), serviceAccountDir: sa });
    expect(await names(s)).toEqual(['docker.io/library/nginx:1.27']);
    expect(lastRequest()).toMatchObject({ path: '/api/v1/pods', user: SA_USER, status: 200 });

    cluster.tokens.set('rotated-token-abcdef', 'rotated');
    writeFileSync(join(sa, 'token'), 'rotated-token-abcdef');
    expect(await names(s)).toEqual(['docker.io/library/nginx:1.27']);
    expect(lastRequest()).toMatchObject({ user: 'rotated', status: 200 });
  });

  it('without a mounted token: one line naming the file', async () => {
    const err = await listError(source({}, { env: env(), serviceAccountDir: join(dir, 'no-sa') }));
    expect(err.message).toBe(`source prod: cannot read the service account token ${join(dir, 'no-sa', 'token')} (KUBERNETES_SERVICE_HOST is set: herald runs in a pod, whose service account must be mounted): file not found`);
  });
});

describe('a kubeconfig', () => {
  it('with a token: the kubeconfig key relative to the config folder, its CA file relative to the kubeconfig', async () => {
    mkdirSync(join(dir, 'kube'), { recursive: true });
    writeFileSync(join(dir, 'kube', 'ca.pem'), cluster.pki.caPem);
    kubeconfig(join(dir, 'kube', 'token.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.pem' }, user: { token: TOKEN } });
    expect(await names(source({ kubeconfig: 'kube/token.yml' }))).toEqual(['docker.io/library/nginx:1.27']);
    expect(lastRequest()).toMatchObject({ user: SA_USER, status: 200 });
  });

  it('with a client certificate, from files or from -data', async () => {
    kubeconfig(join(dir, 'cert-files.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { 'client-certificate': 'client.crt', 'client-key': 'client.key' } });
    expect(await names(source({ kubeconfig: 'cert-files.yml' }))).toHaveLength(1);
    expect(lastRequest()).toMatchObject({ user: 'herald-test-user', status: 200 });
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    kubeconfig(join(dir, 'cert-data.yml'), {
      server: cluster.url,
      ca: { 'certificate-authority-data': b64(cluster.pki.caPem) },
      user: { 'client-certificate-data': b64(cluster.pki.clientCertPem), 'client-key-data': b64(cluster.pki.clientKeyPem) },
    });
    expect(await names(source({ kubeconfig: 'cert-data.yml' }))).toHaveLength(1);
    expect(lastRequest()).toMatchObject({ user: 'herald-test-user', status: 200 });
  });

  it('with a tokenFile, read on every run; a server with a path (a proxy) keeps it', async () => {
    writeFileSync(join(dir, 'token-file'), TOKEN);
    kubeconfig(join(dir, 'token-file.yml'), { server: `${cluster.url}/k8s/clusters/c-1`, ca: { 'certificate-authority': 'ca.crt' }, user: { tokenFile: 'token-file', token: 'ignored' } });
    const s = source({ kubeconfig: 'token-file.yml' });
    await s.list(LIST);
    expect(lastRequest()).toMatchObject({ path: '/k8s/clusters/c-1/api/v1/pods', user: SA_USER });
    cluster.tokens.set('from-file-2-abcdef', 'second');
    writeFileSync(join(dir, 'token-file'), 'from-file-2-abcdef\n');
    await s.list(LIST);
    expect(lastRequest()).toMatchObject({ user: 'second', status: 200 });
  });

  it('uses the context key, else current-context; an unknown context names the ones there are', async () => {
    const file = join(dir, 'contexts.yml');
    kubeconfig(file, {
      server: cluster.url,
      ca: { 'certificate-authority': 'ca.crt' },
      user: { token: 'wrong-token-abcdef' },
      more: { name: 'good', user: { token: TOKEN } },
    });
    expect((await listError(source({ kubeconfig: file }))).message).toBe('source prod: the cluster refused the credentials (401 Unauthorized)');
    expect(await names(source({ kubeconfig: file, context: 'good' }))).toHaveLength(1);
    expect((await listError(source({ kubeconfig: file, context: 'staging' }))).message).toBe(`source prod: kubeconfig ${file} has no context "staging" (it has: main, good)`);
  });

  it('$KUBECONFIG when not in a cluster (a missing file in its list is skipped), else ~/.kube/config; ~ in the key is the home folder', async () => {
    const home = join(dir, 'home');
    kubeconfig(join(home, '.kube', 'config'), { server: cluster.url, ca: { 'certificate-authority': join(dir, 'ca.crt') }, user: { token: TOKEN } });
    expect(await names(source({ kubeconfig: '~/.kube/config' }, { homeDir: home }))).toHaveLength(1);
    expect(await names(source({}, { homeDir: home }))).toHaveLength(1);
    expect(await names(source({}, { env: { KUBECONFIG: `${join(dir, 'missing.yml')}:${join(home, '.kube', 'config')}` } }))).toHaveLength(1);
    const err = await listError(source({}, { homeDir: join(dir, 'empty-home') }));
    expect(err.message).toBe(`source prod: no cluster to list: not in a cluster (KUBERNETES_SERVICE_HOST is not set), no kubeconfig key, and $KUBECONFIG is not set and ${join(dir, 'empty-home', '.kube', 'config')} does not exist`);
  });

  it('with an exec plugin: its token, kept until it expires; a failing plugin is one line', async () => {
    const plugin = join(dir, 'plugin.mjs');
    const calls = join(dir, 'plugin-calls');
    writeFileSync(calls, '');
    writeFileSync(
      plugin,
      [
        '#!/usr/bin/env node',
        "import { appendFileSync } from 'node:fs';",
        `appendFileSync(${JSON.stringify(calls)}, 'x');`,
        "const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);",
        "if (process.env.FAIL) { console.error('error: the SSO session has expired'); process.exit(2); }",
        "const status = { token: process.env.PLUGIN_TOKEN, ...(process.env.EXPIRES ? { expirationTimestamp: process.env.EXPIRES } : {}) };",
        "console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential', status }));",
      ].join('\n'),
    );
    chmodSync(plugin, 0o755);
    const exec = (env: Record<string, string>) => ({ apiVersion: 'client.authentication.k8s.io/v1', command: './plugin.mjs', interactiveMode: 'Never', env: Object.entries(env).map(([name, value]) => ({ name, value })) });
    const environment = { env: { PATH: process.env.PATH } };
    kubeconfig(join(dir, 'exec.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { exec: exec({ PLUGIN_TOKEN: TOKEN, EXPIRES: new Date(Date.now() + 3_600_000).toISOString() }) } });
    const s = source({ kubeconfig: 'exec.yml' }, environment);
    await s.list(LIST);
    await s.list(LIST);
    expect(lastRequest()).toMatchObject({ user: SA_USER, status: 200 });
    expect(readFileSync(calls, 'utf8')).toBe('x');

    kubeconfig(join(dir, 'exec-fail.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { exec: exec({ FAIL: '1' }) } });
    const err = await listError(source({ kubeconfig: 'exec-fail.yml' }, environment));
    expect(err.message).toBe(`source prod: kubeconfig ${join(dir, 'exec-fail.yml')}: user "main": exec plugin "./plugin.mjs" failed (exit 2): error: the SSO session has expired`);
  });
});

describe('failures: one line naming the source, never the token', () => {
  it('401 from the cluster', async () => {
    kubeconfig(join(dir, 'bad-token.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { token: 'revoked-token-0123456789' } });
    const err = await listError(source({ kubeconfig: 'bad-token.yml' }));
    expect(err.message).toBe('source prod: the cluster refused the credentials (401 Unauthorized)');
    expect(err.message).not.toContain('revoked-token');
  });

  it('403 from the cluster: its own words name the missing permission', async () => {
    kubeconfig(join(dir, 'token.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { token: TOKEN } });
    cluster.allowedNamespaces = ['apps'];
    try {
      const err = await listError(source({ kubeconfig: 'token.yml' }));
      expect(err.message).toBe(`source prod: the cluster denied the listing (403 Forbidden): pods is forbidden: User "${SA_USER}" cannot list resource "pods" in API group "" at the cluster scope`);
      expect(err.message).not.toContain(TOKEN);
      expect(await names(source({ kubeconfig: 'token.yml', namespaces: ['apps'] }))).toHaveLength(1);
    } finally {
      cluster.allowedNamespaces = undefined;
    }
  });

  it('a token the server repeats back (here in a user name) is not shown', async () => {
    kubeconfig(join(dir, 'echo.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { token: 'echoed-token-0123456789' } });
    cluster.tokens.set('echoed-token-0123456789', 'user-echoed-token-0123456789');
    cluster.allowedNamespaces = [];
    try {
      const err = await listError(source({ kubeconfig: 'echo.yml' }));
      expect(err.message).toBe('source prod: the cluster denied the listing (403 Forbidden): pods is forbidden: User "user-***" cannot list resource "pods" in API group "" at the cluster scope');
    } finally {
      cluster.allowedNamespaces = undefined;
    }
  });

  it('a cluster that cannot be reached, or does not answer within the timeout', async () => {
    const port = await freePort();
    kubeconfig(join(dir, 'refused.yml'), { server: `https://127.0.0.1:${port}`, ca: { 'certificate-authority': 'ca.crt' }, user: { token: TOKEN } });
    expect((await listError(source({ kubeconfig: 'refused.yml' }))).message).toBe(`source prod: cannot reach the cluster at https://127.0.0.1:${port}: connection refused`);

    const held: Socket[] = [];
    const silent: Server = createServer((socket) => void held.push(socket));
    const address = await listenOnLoopback(silent);
    try {
      kubeconfig(join(dir, 'silent.yml'), { server: `https://${address}`, ca: { 'certificate-authority': 'ca.crt' }, user: { token: TOKEN } });
      const started = Date.now();
      const err = await listError(source({ kubeconfig: 'silent.yml', timeout: '300ms' }));
      expect(err.message).toBe(`source prod: the cluster at https://${address} did not answer within 300ms`);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a certificate the kubeconfig does not vouch for is refused (TLS is verified)', async () => {
    kubeconfig(join(dir, 'no-ca.yml'), { server: cluster.url, ca: {}, user: { token: TOKEN } });
    const err = await listError(source({ kubeconfig: 'no-ca.yml' }));
    expect(err.message).toMatch(new RegExp(`^source prod: the TLS certificate of ${cluster.url} is not trusted \\((UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\\)`));
  });

  it('a bad kubeconfig: unreadable, not YAML (the line is not quoted: it may hold a token), unsupported auth, half a certificate', async () => {
    const cases: [string, string, string][] = [
      ['missing.yml', '', `cannot read kubeconfig ${join(dir, 'missing.yml')}: file not found`],
      ['broken.yml', `users:\n- name: u\n  user: {token: ${TOKEN}: x}\n`, `kubeconfig ${join(dir, 'broken.yml')}: not valid YAML at line 3: Block collections are not allowed within flow collections`],
      ['list.yml', '- a\n- b\n', `kubeconfig ${join(dir, 'list.yml')}: not a kubeconfig (a map with clusters, users and contexts)`],
    ];
    for (const [name, content, message] of cases) {
      if (content !== '') writeFileSync(join(dir, name), content);
      const err = await listError(source({ kubeconfig: name }));
      expect(err.message).toBe(`source prod: ${message}`);
      expect(err.message).not.toContain(TOKEN);
    }
    kubeconfig(join(dir, 'provider.yml'), { server: cluster.url, ca: {}, user: { 'auth-provider': { name: 'gcp', config: {} } } });
    expect((await listError(source({ kubeconfig: 'provider.yml' }))).message).toBe(
      `source prod: kubeconfig ${join(dir, 'provider.yml')}: user "main": auth-provider "gcp" is not supported (Kubernetes removed them; use an exec plugin or a token)`,
    );
    kubeconfig(join(dir, 'half.yml'), { server: cluster.url, ca: {}, user: { 'client-certificate': 'client.crt' } });
    expect((await listError(source({ kubeconfig: 'half.yml' }))).message).toBe(`source prod: kubeconfig ${join(dir, 'half.yml')}: user "main": a client certificate needs both client-certificate and client-key`);
  });
});

it('close() closes its connections', async () => {
  kubeconfig(join(dir, 'token.yml'), { server: cluster.url, ca: { 'certificate-authority': 'ca.crt' }, user: { token: TOKEN } });
  await closeAll();
  const s = source({ kubeconfig: 'token.yml' });
  await s.list(LIST);
  expect(cluster.connections()).toBeGreaterThan(0);
  await s.close();
  await until(() => cluster.connections() === 0, { what: 'the cluster to see its connections closed', timeoutMs: 5_000 });
});
