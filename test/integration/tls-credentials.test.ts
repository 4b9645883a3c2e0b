/**
 * TLS and credentials end to end, through the real CLI and real docker-registry processes (the
 * client-level tests in registry-client.test.ts and registry-quirks.test.ts use a node:https stand-in
 * and undici's MockAgent; these are the same promises as a user meets them):
 * - a registry serving HTTPS with a self-signed certificate fails without caFile, with one line
 *   that says what to do, and works with caFile;
 * - credentials are not sent to an http:// token realm of a registry that is not insecure: the
 *   check fails with one line, and the realm never hears from herald;
 * - a blob redirect to another host (object storage) does not carry the registry's credentials.
 *
 * The HTTPS registry is a second docker-registry process serving the same storage folder as a
 * plain-http one from the fixture, which the test pushes to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startHttpSink, type HttpSink } from '../fixtures/http-sink.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { herald, tempDir, until } from './helpers.js';
import { freePort } from '../../fixtures/ports.js';

const userLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));

/** A docker-registry over HTTPS on `storage`, optionally asking for tokens from `realm`. */
async function startTlsRegistry(dir: string, storage: string, cert: string, key: string, realm?: string): Promise<{ host: string; child: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const config = join(dir, `tls-registry-${port}.yml`);
  const auth = realm === undefined ? [] : ['auth:', '  token:', `    realm: ${JSON.stringify(realm)}`, '    service: herald-test', '    issuer: herald-test', `    rootcertbundle: ${JSON.stringify(cert)}`];
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log: { level: error, accesslog: { disabled: true } }',
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(storage)} }, maintenance: { uploadpurging: { enabled: false } } }`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  tls: { certificate: ${JSON.stringify(cert)}, key: ${JSON.stringify(key)} }`,
      ...auth,
      '',
    ].join('\n'),
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let out = '';
  child.stderr!.on('data', (d) => (out += d));
  const kill = (): void => void child.kill('SIGKILL');
  process.once('exit', kill);
  const ca = readFileSync(cert);
  const answers = (): Promise<boolean> =>
    new Promise((resolve) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/v2/', ca, timeout: 1_000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 || res.statusCode === 401);
      });
      // `timeout` only reports a stalled request; end it, so every probe is bounded.
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  await until(
    async () => {
      if (await answers()) return true;
      if (child.exitCode !== null) throw new Error(`TLS registry did not start (exit ${child.exitCode}):\n${out}`);
      return false;
    },
    { what: `the TLS registry on 127.0.0.1:${port}`, timeoutMs: 10_000, detail: () => out },
  );
  return {
    host: `127.0.0.1:${port}`,
    child,
    stop: async () => {
      process.off('exit', kill);
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    },
  };
}

describe('TLS and credentials, end to end', () => {
  let tmp: ReturnType<typeof tempDir>;
  let plain: TestRegistry;
  let cert: string;
  let key: string;
  let n = 0;

  beforeAll(async () => {
    tmp = tempDir('herald-tls-');
    cert = join(tmp.dir, 'cert.pem');
    key = join(tmp.dir, 'key.pem');
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
    ]);
    plain = await startRegistry();
    await plain.pushImage('tls/app', '1', { seed: 'tls-v1' });
  }, 60_000);

  afterAll(async () => {
    await plain?.stop();
    tmp?.cleanup();
  });

  function config(lines: string[]): string {
    const file = join(tmp.dir, `herald-${++n}.yml`);
    writeFileSync(file, [`db: { path: ${join(tmp.dir, `herald-${n}.db`)} }`, ...lines].join('\n'));
    return file;
  }

  it('a self-signed HTTPS registry fails without caFile (one line saying so) and works with it', async () => {
    const tls = await startTlsRegistry(tmp.dir, join(plain.dir, 'storage'), cert, key);
    try {
      const image = `${tls.host}/tls/app:1`;
      const without = await herald(['check', '-c', config(['registries:', `  - { name: tls, host: "${tls.host}", timeout: 5s }`, 'images:', `  - name: ${image}`]), '--json']);
      expect(without.code).toBe(1);
      const report = JSON.parse(without.stdout) as { images: Array<{ status: string; error: string }> };
      expect(report.images[0]).toMatchObject({ status: 'error' });
      // The registry's first request (its /v2/ ping) is where TLS fails, so the line names the registry.
      expect(report.images[0]!.error).toBe(`${tls.host}: TLS certificate of ${tls.host} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT); set caFile, or insecure: true`);
      expect(userLines(without.stderr)).toEqual([]);

      const withCa = await herald(['check', '-c', config(['registries:', `  - { name: tls, host: "${tls.host}", caFile: ${JSON.stringify(cert)}, timeout: 5s }`, 'images:', `  - name: ${image}`]), '--json']);
      expect(withCa.code, withCa.stderr).toBe(0);
      expect((JSON.parse(withCa.stdout) as { images: Array<{ status: string }> }).images[0]!.status).toBe('new');
    } finally {
      await tls.stop();
    }
  }, 60_000);

  it('does not send credentials to the http:// token realm of an https registry that is not insecure', async () => {
    const realm: HttpSink = await startHttpSink(() => ({ status: 200, body: JSON.stringify({ token: 'would-be-token' }) }));
    const tls = await startTlsRegistry(tmp.dir, join(plain.dir, 'storage'), cert, key, `${realm.url}/token`);
    try {
      const image = `${tls.host}/tls/app:1`;
      const r = await herald([
        'check', '-c',
        config(['registries:', `  - { name: tls, host: "${tls.host}", caFile: ${JSON.stringify(cert)}, username: bot, password: "realm-must-not-see-this", timeout: 5s }`, 'images:', `  - name: ${image}`]),
        '--json',
      ]);
      expect(r.code).toBe(1);
      const report = JSON.parse(r.stdout) as { images: Array<{ status: string; error: string }> };
      expect(report.images[0]!.status).toBe('error');
      expect(report.images[0]!.error).toBe(`${image}: refusing to send credentials to the plain-http token realm ${new URL(realm.url).host} (mark the registry insecure to allow it)`);
      expect(realm.requests).toEqual([]);
    } finally {
      await tls.stop();
      await realm.close();
    }
  }, 60_000);

  it('follows a blob redirect to another host without the registry credentials', async () => {
    const registry = await startRegistry({ auth: 'htpasswd' });
    // Object storage on another origin: serves the blob bytes for a signed-looking URL, and records
    // what it was sent.
    const storageRequests: IncomingMessage['headers'][] = [];
    const storage: Server = createServer((req, res) => {
      storageRequests.push(req.headers);
      const [, repo, digest] = /^\/store\/(.+)\/(sha256:[a-f0-9]{64})\?sig=/.exec(req.url ?? '') ?? [];
      void fetch(`${registry.url}/v2/${repo}/blobs/${digest}`, { headers: registry.adminHeaders(repo!) }).then(async (up) => {
        res.writeHead(up.status, { 'content-type': 'application/octet-stream' }).end(Buffer.from(await up.arrayBuffer()));
      });
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    const storageUrl = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
    // The registry's front: blob GETs answer 307 to storage, everything else goes to the registry.
    const frontRequests: Array<{ path: string; authorization: string | undefined }> = [];
    const front: Server = createServer((req, res) => {
      frontRequests.push({ path: req.url ?? '', authorization: req.headers.authorization });
      const blob = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
      if (req.method === 'GET' && blob) {
        res.writeHead(307, { location: `${storageUrl}/store/${blob[1]}/${blob[2]}?sig=abc` }).end();
        return;
      }
      const target = new URL(registry.url);
      const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const frontHost = `127.0.0.1:${(front.address() as AddressInfo).port}`;
    try {
      await registry.pushImage('redirect/app', '1', { seed: 'r1' });
      const file = config([
        'registries:',
        `  - { name: front, host: "${frontHost}", insecure: true, username: ${registry.username}, password: "${registry.password}", timeout: 5s }`,
        'images:',
        `  - name: ${frontHost}/redirect/app:1`,
      ]);
      expect((await herald(['check', '-c', file])).code).toBe(0);
      // An update makes herald read the new image's config blob, through the redirect.
      await registry.pushImage('redirect/app', '1', { seed: 'r2', created: '2026-05-06T07:08:09Z', labels: { via: 'storage' } });
      const r = await herald(['check', '-c', file, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { images: Array<{ status: string }> }).images[0]!.status).toBe('update');
      const events = JSON.parse((await herald(['events', '-c', file, '--json'])).stdout) as Array<{ status: string; created: string; labels: Record<string, string> }>;
      expect(events[0]).toMatchObject({ status: 'update', created: '2026-05-06T07:08:09Z', labels: { via: 'storage' } });

      expect(storageRequests.length).toBeGreaterThan(0);
      expect(storageRequests.map((h) => h.authorization)).toEqual(storageRequests.map(() => undefined));
      // …while the registry itself was sent them.
      expect(frontRequests.some((q) => q.authorization?.startsWith('Basic '))).toBe(true);
    } finally {
      storage.close();
      front.close();
      storage.closeAllConnections();
      front.closeAllConnections();
      await registry.stop();
    }
  }, 60_000);
});
