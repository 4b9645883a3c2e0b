/**
 * The registry client against a real docker-registry (distribution 2.8) in each auth mode, behind a
 * counting proxy so every request the client makes is seen from the server side too.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryConfig } from '../../src/config/schema.js';
import { RegistryError } from '../../src/util/errors.js';
import { RegistryClient, type RegistryClientOptions, type RequestEvent } from '../../src/registry/client.js';
import { configDigestOf, isIndexMediaType, MEDIA_TYPES, parsePlatform, selectPlatform } from '../../src/registry/manifest.js';
import { parseReference, type ImageReference } from '../../src/model/reference.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { startRegistry, type AuthMode, type PushedManifest, type TestRegistry } from '../../fixtures/registry.js';

const NO_DOCKER_CONFIG = '/nonexistent/herald-test/config.json';

async function errorOf(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

const modes: AuthMode[] = ['none', 'htpasswd', 'token'];

describe.each(modes)('RegistryClient against docker-registry (auth: %s)', (mode) => {
  let reg: TestRegistry;
  let proxy: CountingProxy;
  let app: PushedManifest;
  let events: RequestEvent[];
  const clients: RegistryClient[] = [];

  const ref = (name: string): ImageReference => parseReference(`${proxy.host}/${name}`);
  const entry = (extra: Partial<RegistryConfig> = {}): RegistryConfig => ({
    name: 'test',
    host: proxy.host,
    insecure: true,
    timeout: 5_000,
    ...(reg.username !== undefined ? { username: reg.username, password: reg.password } : {}),
    ...extra,
  });
  const client = (opts: RegistryClientOptions = {}): RegistryClient => {
    const c = new RegistryClient({
      registries: [entry()],
      dockerConfigPath: NO_DOCKER_CONFIG,
      onRequest: (e) => events.push(e),
      ...opts,
    });
    clients.push(c);
    return c;
  };
  const kinds = (): string[] => events.map((e) => `${e.kind} ${e.status}`);
  const tokenRequests = (): number => reg.tokenServer?.requests.length ?? 0;

  beforeAll(async () => {
    reg = await startRegistry({ auth: mode });
    proxy = await startCountingProxy(reg.url);
    app = await reg.pushImage('team/app', '1.0', { created: '2026-03-04T05:06:07Z', labels: { 'org.opencontainers.image.version': '1.0' } });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await proxy?.stop();
    await reg?.stop();
  });
  beforeEach(() => {
    events = [];
    proxy.reset();
  });

  it('HEADs a tag to the pushed digest; the second HEAD costs exactly one request', async () => {
    const c = client();
    const first = await c.headManifest(ref('team/app:1.0'));
    expect(first).toEqual({ digest: app.digest, mediaType: MEDIA_TYPES.ociManifest });
    const firstCost = { none: ['ping 200', 'head 200'], htpasswd: ['ping 401', 'head 200'], token: ['ping 401', 'token 200', 'head 200'] }[mode];
    expect(kinds()).toEqual(firstCost);
    expect(proxy.counts.total).toBe(mode === 'token' ? 2 : 2); // the token server is not behind the proxy
    expect(tokenRequests()).toBe(mode === 'token' ? 1 : 0);

    events = [];
    proxy.reset();
    const second = await c.headManifest(ref('team/app:1.0'));
    expect(second.digest).toBe(app.digest);
    expect(kinds()).toEqual(['head 200']);
    expect(proxy.counts).toMatchObject({ head: 1, total: 1 });
    expect(tokenRequests()).toBe(mode === 'token' ? 1 : 0);

    // By digest, and another tag of the same repository: still one request each (same scope).
    events = [];
    await reg.pushImage('team/app', '1.1');
    expect((await c.headManifest(ref(`team/app@${app.digest}`))).digest).toBe(app.digest);
    await c.headManifest(ref('team/app:1.1'));
    expect(kinds()).toEqual(['head 200', 'head 200']);

    // Another repository: no new ping; a new token only for bearer registries.
    events = [];
    await reg.pushImage('team/other', '1');
    await c.headManifest(ref('team/other:1'));
    expect(kinds()).toEqual(mode === 'token' ? ['token 200', 'head 200'] : ['head 200']);
    if (mode === 'token') {
      expect(reg.tokenServer?.requests.at(-1)).toMatchObject({ scope: ['repository:team/other:pull'], account: reg.username, authorized: true });
    }
  });

  it('shares one ping and one token between concurrent checks', async () => {
    const c = client();
    await Promise.all(['1.0', '1.0', '1.0', '1.0', '1.0', '1.0'].map((t) => c.headManifest(ref(`team/app:${t}`))));
    expect(events.filter((e) => e.kind === 'ping')).toHaveLength(1);
    expect(events.filter((e) => e.kind === 'token')).toHaveLength(mode === 'token' ? 1 : 0);
    expect(events.filter((e) => e.kind === 'head')).toHaveLength(6);
  });

  it.each(['oci', 'docker'] as const)('reads a %s multi-platform image: index → platform → config', async (format) => {
    const pushed = await reg.pushIndex(
      'multi/app',
      format,
      [
        { platform: 'linux/amd64', created: '2026-05-01T00:00:00Z', labels: { arch: 'amd64' } },
        { platform: 'linux/arm64/v8', created: '2026-05-02T00:00:00Z', labels: { arch: 'arm64', 'org.opencontainers.image.source': 'https://example.com/src' } },
      ],
      { format, attestation: format === 'oci' },
    );
    const c = client();
    const image = ref(`multi/app:${format}`);
    const head = await c.headManifest(image);
    expect(head.digest).toBe(pushed.digest);
    expect(head.mediaType).toBe(format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerList);
    expect(isIndexMediaType(head.mediaType)).toBe(true);

    events = [];
    const index = await c.getManifest(image, head.digest);
    expect(index.digest).toBe(pushed.digest);
    expect(index.mediaType).toBe(head.mediaType);
    const chosen = selectPlatform(index.json, parsePlatform('linux/arm64'));
    expect(chosen?.digest).toBe(pushed.platforms['linux/arm64/v8']?.digest);

    const manifest = await c.getManifest(image, chosen!.digest);
    expect(manifest.mediaType).toBe(format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest);
    const configDigest = configDigestOf(manifest.json);
    expect(configDigest).toBe(pushed.platforms['linux/arm64/v8']?.configDigest);
    const info = await c.getImageConfig(image, configDigest);
    expect(info).toMatchObject({
      created: '2026-05-02T00:00:00Z',
      labels: { arch: 'arm64', 'org.opencontainers.image.source': 'https://example.com/src' },
    });
    expect(kinds()).toEqual(['manifest 200', 'manifest 200', 'blob 200']);
    expect(proxy.counts).toMatchObject({ getManifest: 2, getBlob: 1 });
  });

  it('reads created and labels of a single-platform image', async () => {
    const c = client();
    const m = await c.getManifest(ref('team/app:1.0'), '1.0');
    expect(m.digest).toBe(app.digest);
    expect(await c.getImageConfig(ref('team/app:1.0'), configDigestOf(m.json))).toMatchObject({
      created: '2026-03-04T05:06:07Z',
      labels: { 'org.opencontainers.image.version': '1.0' },
    });
  });

  it('lists tags, and gives [] once the last tag is gone', async () => {
    await Promise.all([reg.pushImage('tags/app', 'a'), reg.pushImage('tags/app', 'b')]);
    const c = client();
    expect((await c.listTags(ref('tags/app:a'))).tags.sort()).toEqual(['a', 'b']);
    const gone = await reg.pushImage('tags/gone', 'only');
    await reg.deleteManifest('tags/gone', gone.digest);
    expect(await c.listTags(ref('tags/gone:only'))).toEqual({ tags: [], complete: true, pages: 1 });
  });

  it('says "manifest unknown (404)" for a missing tag and a missing digest', async () => {
    const c = client();
    const err = await errorOf(c.headManifest(ref('team/app:nope')));
    expect(err.message).toBe(`${proxy.host}/team/app:nope: manifest unknown (404)`);
    expect(err.status).toBe(404);
    expect(err.retryable).toBe(false);
    const missing = `sha256:${'0'.repeat(64)}`;
    const err2 = await errorOf(c.getManifest(ref('team/app:1.0'), missing));
    expect(err2.message).toBe(`${proxy.host}/team/app@${missing}: manifest unknown (404)`);
    const err3 = await errorOf(c.headManifest(ref('no/such-repo:1')));
    expect(err3.message).toMatch(new RegExp(`^${proxy.host.replace(/\./g, '\\.')}/no/such-repo:1: manifest unknown \\(404\\)$`));
  });

  it('falls back to GET and hashes the bytes when HEAD has no Docker-Content-Digest (via the proxy)', async () => {
    proxy.setResponseHook((req, _status, headers) => {
      if (req.method === 'HEAD') delete headers['docker-content-digest'];
    });
    try {
      const head = await client().headManifest(ref('team/app:1.0'));
      expect(head.digest).toBe(app.digest);
      expect(head.manifest?.digest).toBe(app.digest);
      expect(proxy.counts).toMatchObject({ head: 1, getManifest: 1 });
    } finally {
      proxy.setResponseHook(undefined);
    }
  });

  if (mode !== 'none') {
    it('reports wrong credentials as unauthorized, naming the registry and not the password', async () => {
      const c = client({ registries: [entry({ password: 'wrong-password' })] });
      const err = await errorOf(c.headManifest(ref('team/app:1.0')));
      expect(err.message).toBe(`${proxy.host}/team/app:1.0: unauthorized (401): check the credentials for ${proxy.host} (registries entry "test")`);
      expect(err.message).not.toContain('wrong-password');
      expect(err.retryable).toBe(false);
      if (mode === 'token') expect(reg.tokenServer?.requests.at(-1)).toMatchObject({ authorized: false, status: 401 });
    });

    it('reports missing credentials as unauthorized', async () => {
      const c = client({ registries: [entry({ username: undefined, password: undefined })] });
      const err = await errorOf(c.headManifest(ref('team/app:1.0')));
      expect(err.message).toMatch(new RegExp(`^${proxy.host.replace(/\./g, '\\.')}/team/app:1\\.0: unauthorized \\(401\\): no credentials for ${proxy.host.replace(/\./g, '\\.')}`));
    });

    it('takes credentials from docker config.json when the registries entry has no username', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'herald-dockercfg-'));
      try {
        const path = join(dir, 'config.json');
        const auth = Buffer.from(`${reg.username}:${reg.password}`).toString('base64');
        await writeFile(path, JSON.stringify({ auths: { [`http://${proxy.host}`]: { auth } } }));
        const c = client({ registries: [entry({ username: undefined, password: undefined })], dockerConfigPath: path });
        expect((await c.headManifest(ref('team/app:1.0'))).digest).toBe(app.digest);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  if (mode === 'token') {
    it('refreshes a token that expires after 1 s', async () => {
      const ts = reg.tokenServer!;
      const saved = ts.expiresIn;
      ts.expiresIn = 1;
      try {
        const c = client();
        await c.headManifest(ref('team/app:1.0'));
        await c.headManifest(ref('team/app:1.0'));
        expect(kinds()).toEqual(['ping 401', 'token 200', 'head 200', 'head 200']);
        await new Promise((r) => setTimeout(r, 1_100));
        events = [];
        await c.headManifest(ref('team/app:1.0'));
        expect(kinds()).toEqual(['token 200', 'head 200']);
      } finally {
        ts.expiresIn = saved;
      }
    });
  }

  it('fails fast with a RegistryError when the registry goes down, and recovers', async () => {
    const c = client();
    await c.headManifest(ref('team/app:1.0'));
    proxy.setDown(true);
    try {
      const started = Date.now();
      const err = await errorOf(c.headManifest(ref('team/app:1.0')));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(err.message).toMatch(new RegExp(`^${proxy.host.replace(/\./g, '\\.')}/team/app:1\\.0: connection (closed|refused)`));
      expect(err.retryable).toBe(true);
      expect(events.filter((e) => e.status === 'error').length).toBe(3); // the try and two retries

      // A client that has never reached it fails in the ping, naming the registry.
      const fresh = client({ retries: 0 });
      const err2 = await errorOf(fresh.headManifest(ref('team/app:1.0')));
      expect(err2.message).toMatch(new RegExp(`^${proxy.host.replace(/\./g, '\\.')}: connection (closed|refused)`));
    } finally {
      proxy.setDown(false);
    }
    expect((await c.headManifest(ref('team/app:1.0'))).digest).toBe(app.digest);
  });

  it('times out a registry that does not answer', async () => {
    const c = client({ registries: [entry({ timeout: 300 })], retries: 0 });
    await c.headManifest(ref('team/app:1.0'));
    proxy.setDelay(2_000);
    try {
      const started = Date.now();
      const err = await errorOf(c.headManifest(ref('team/app:1.0')));
      expect(err.message).toBe(`${proxy.host}/team/app:1.0: timed out after 300ms`);
      expect(err.retryable).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      proxy.setDelay(0);
    }
  });
});

describe('RegistryClient, no registry at all', () => {
  it('says "connection refused" for a closed port', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const host = `127.0.0.1:${port}`;
    const c = new RegistryClient({ registries: [{ name: 'dead', host, insecure: true, timeout: 2_000 }], dockerConfigPath: NO_DOCKER_CONFIG, retries: 1, retryBaseMs: 10 });
    try {
      const err = await errorOf(c.headManifest(parseReference(`${host}/a/b:1`)));
      expect(err.message).toBe(`${host}: connection refused (${host})`);
    } finally {
      await c.close();
    }
  });

  it('uses https unless the entry says insecure (no exception for 127.0.0.1)', async () => {
    const reg = await startRegistry({ auth: 'none' });
    const c = new RegistryClient({ dockerConfigPath: NO_DOCKER_CONFIG, retries: 0, defaultTimeoutMs: 2_000 });
    try {
      const err = await errorOf(c.headManifest(parseReference(`${reg.host}/a/b:1`)));
      // A TLS handshake against a plain-http server fails; the message names the registry.
      expect(err.message.startsWith(`${reg.host}: `)).toBe(true);
      expect(err.message).not.toContain('\n');
    } finally {
      await c.close();
      await reg.stop();
    }
  });
});

describe('RegistryClient over TLS', () => {
  // A real TLS endpoint (node:https with an openssl certificate for 127.0.0.1) answering like a
  // registry for one manifest: what is tested here is certificate verification and caFile.
  let dir: string;
  let host: string;
  let server: ReturnType<typeof createHttpsServer>;
  const digest = `sha256:${'a'.repeat(64)}`;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-tls-'));
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    server = createHttpsServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, (req, res) => {
      if (req.url === '/v2/') res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'docker-content-digest': digest, 'content-type': MEDIA_TYPES.ociManifest, 'content-length': '0' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses an untrusted certificate with a clear message', async () => {
    const c = new RegistryClient({ dockerConfigPath: NO_DOCKER_CONFIG, retries: 0 });
    try {
      const err = await errorOf(c.headManifest(parseReference(`${host}/a/b:1`)));
      expect(err.message).toBe(`${host}: TLS certificate of ${host} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT); set caFile, or insecure: true`);
    } finally {
      await c.close();
    }
  });

  it('trusts it with caFile, and keeps the system CAs', async () => {
    const c = new RegistryClient({ registries: [{ name: 'tls', host, insecure: false, caFile: join(dir, 'cert.pem'), timeout: 5_000 }], dockerConfigPath: NO_DOCKER_CONFIG });
    try {
      expect((await c.headManifest(parseReference(`${host}/a/b:1`))).digest).toBe(digest);
    } finally {
      await c.close();
    }
  });

  it('names a caFile it cannot read', async () => {
    const c = new RegistryClient({ registries: [{ name: 'tls', host, insecure: false, caFile: join(dir, 'missing.pem'), timeout: 5_000 }], dockerConfigPath: NO_DOCKER_CONFIG });
    try {
      const err = await errorOf(c.headManifest(parseReference(`${host}/a/b:1`)));
      expect(err.message).toMatch(/cannot read caFile .*missing\.pem/);
    } finally {
      await c.close();
    }
  });
});

describe('RegistryClient debug logs', () => {
  it('log method, URL, status and time per request, never credentials or tokens', async () => {
    const reg = await startRegistry({ auth: 'token' });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const c = new RegistryClient({
      registries: [{ name: 't', host: reg.host, insecure: true, timeout: 5_000, username: reg.username, password: reg.password }],
      dockerConfigPath: NO_DOCKER_CONFIG,
      logger,
    });
    try {
      await reg.pushImage('log/app', '1');
      await c.headManifest(parseReference(`${reg.host}/log/app:1`));
      await c.headManifest(parseReference(`${reg.host}/log/app:nope`)).catch(() => undefined);
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'registry request');
      expect(requests.map((r) => [r.method, r.status])).toEqual([
        ['GET', 401],
        ['GET', 200],
        ['HEAD', 200],
        ['HEAD', 404],
      ]);
      expect(requests[2]).toMatchObject({ url: `http://${reg.host}/v2/log/app/manifests/1` });
      expect(typeof requests[2]?.ms).toBe('number');
      const all = lines.join('\n');
      expect(all).not.toContain(reg.password!);
      expect(all).not.toContain(Buffer.from(`${reg.username}:${reg.password}`).toString('base64'));
      expect(all).not.toMatch(/eyJ[\w-]+\.[\w-]+/); // no JWT
    } finally {
      await c.close();
      await reg.stop();
    }
  });
});

describe('RegistryClient connections', () => {
  it('keeps one connection alive across HEADs, GETs and tokens (reset: false on HEAD)', async () => {
    const reg = await startRegistry({ auth: 'htpasswd' });
    // A TCP forwarder that counts the connections the client opens to the registry.
    let connections = 0;
    const target = new URL(reg.url);
    const forwarder = createServer((socket) => {
      connections++;
      const upstream = connect(Number(target.port), target.hostname);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => forwarder.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(forwarder.address() as AddressInfo).port}`;
    const c = new RegistryClient({
      registries: [{ name: 'fw', host, insecure: true, timeout: 5_000, username: reg.username, password: reg.password }],
      dockerConfigPath: NO_DOCKER_CONFIG,
    });
    try {
      const pushed = await reg.pushImage('conn/app', '1');
      const image = parseReference(`${host}/conn/app:1`);
      for (let i = 0; i < 20; i++) expect((await c.headManifest(image)).digest).toBe(pushed.digest);
      await c.getManifest(image, pushed.digest);
      await c.getBlob(image, pushed.configDigest);
      for (let i = 0; i < 5; i++) await c.headManifest(image);
      expect(connections).toBe(1);
      // Eight at once open at most eight connections, and later rounds of eight reuse them.
      for (let round = 0; round < 5; round++) {
        const heads = await Promise.all(Array.from({ length: 8 }, () => c.headManifest(image)));
        expect(heads.every((h) => h.digest === pushed.digest)).toBe(true);
      }
      expect(connections).toBeGreaterThan(1);
      expect(connections).toBeLessThanOrEqual(8);
    } finally {
      await c.close();
      forwarder.close();
      await reg.stop();
    }
  });
});
