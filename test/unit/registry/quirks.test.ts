/**
 * Registry behaviour a local docker-registry cannot show: Docker Hub's hosts and headers, a missing
 * Docker-Content-Digest, plain-text 429s, odd token responses and challenges, cross-host redirects,
 * Harbor's tokens for wrong credentials. Everything else is tested against a real registry in
 * test/integration/registry-client.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { MockAgent } from 'undici';
import type { RegistryConfig } from '../../../src/config/schema.js';
import { RegistryError } from '../../../src/util/errors.js';
import { RegistryClient, type RegistryClientOptions, type RequestEvent } from '../../../src/registry/client.js';
import { MEDIA_TYPES } from '../../../src/registry/manifest.js';
import { parseReference } from '../../../src/model/reference.js';

interface Seen {
  origin: string;
  method: string;
  path: string;
  headers: Record<string, string>;
}
interface Reply {
  status: number;
  body?: string | Buffer;
  headers?: Record<string, string | undefined>;
}
type Handler = (req: Seen) => Reply;

const sha = (b: string | Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const manifestBody = JSON.stringify({
  schemaVersion: 2,
  mediaType: MEDIA_TYPES.ociManifest,
  config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha('{}'), size: 2 },
  layers: [],
});

let mock: MockAgent;
let seen: Seen[];
let events: RequestEvent[];
let clients: RegistryClient[];

/** Every request to `origin` goes to `handler`, which sees method, path and lower-cased headers. */
function serve(origin: string, handler: Handler): void {
  mock
    .get(origin)
    .intercept({ path: () => true, method: () => true })
    .reply((opts) => {
      const headers: Record<string, string> = {};
      const raw = opts.headers;
      if (raw instanceof Headers) raw.forEach((v, k) => (headers[k.toLowerCase()] = v));
      else if (raw) for (const [k, v] of Object.entries(raw)) headers[k.toLowerCase()] = String(v);
      const req = { origin, method: opts.method, path: opts.path, headers };
      seen.push(req);
      const r = handler(req);
      const replyHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.headers ?? {})) if (v !== undefined) replyHeaders[k] = v;
      return { statusCode: r.status, data: r.body ?? '', responseOptions: { headers: replyHeaders } };
    })
    .persist();
}

function client(opts: RegistryClientOptions = {}): RegistryClient {
  const c = new RegistryClient({
    dispatcher: mock,
    dockerConfigPath: '/nonexistent/herald/config.json',
    retryBaseMs: 10,
    onRequest: (e) => events.push(e),
    ...opts,
  });
  clients.push(c);
  return c;
}

function entry(host: string, extra: Partial<RegistryConfig> = {}): RegistryConfig {
  return { name: host, host, insecure: false, timeout: 5_000, ...extra };
}

const bearer = (realm: string, extra = ''): Record<string, string> => ({
  'www-authenticate': `Bearer realm="${realm}",service="svc"${extra}`,
  'content-type': 'application/json',
});

beforeEach(() => {
  mock = new MockAgent();
  mock.disableNetConnect();
  seen = [];
  events = [];
  clients = [];
});
afterEach(async () => {
  for (const c of clients) await c.close();
  await mock.close();
});

describe('Docker Hub', () => {
  it('uses registry-1.docker.io for every alias, asks auth.docker.io for a pull token, reads RateLimit-Remaining', async () => {
    const digest = sha(manifestBody);
    serve('https://registry-1.docker.io', (req) => {
      if (req.path === '/v2/') {
        return { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"' } };
      }
      expect(req.headers.authorization).toBe('Bearer hub-token');
      return {
        status: 200,
        headers: {
          'docker-content-digest': digest,
          'content-type': MEDIA_TYPES.ociIndex,
          'content-length': '1234',
          'ratelimit-limit': '100;w=21600',
          'ratelimit-remaining': '76;w=21600',
          'docker-ratelimit-source': '203.0.113.7',
        },
      };
    });
    serve('https://auth.docker.io', () => ({ status: 200, body: JSON.stringify({ token: 'hub-token', expires_in: 300 }), headers: { 'content-type': 'application/json' } }));

    const c = client();
    for (const name of ['nginx:1.27', 'docker.io/library/nginx:1.27', 'index.docker.io/library/nginx:1.27', 'registry-1.docker.io/nginx:1.27']) {
      const head = await c.headManifest(parseReference(name));
      expect(head).toEqual({ digest, mediaType: MEDIA_TYPES.ociIndex });
    }
    expect(seen.map((s) => `${s.method} ${s.origin}${s.path}`)).toEqual([
      'GET https://registry-1.docker.io/v2/',
      'GET https://auth.docker.io/token?service=registry.docker.io&scope=repository%3Alibrary%2Fnginx%3Apull',
      'HEAD https://registry-1.docker.io/v2/library/nginx/manifests/1.27',
      'HEAD https://registry-1.docker.io/v2/library/nginx/manifests/1.27',
      'HEAD https://registry-1.docker.io/v2/library/nginx/manifests/1.27',
      'HEAD https://registry-1.docker.io/v2/library/nginx/manifests/1.27',
    ]);
    expect(seen.every((s) => /^herald\/\d/.test(s.headers['user-agent'] ?? ''))).toBe(true);
    expect(seen[2]?.headers.accept).toContain(MEDIA_TYPES.dockerList);
    const heads = events.filter((e) => e.kind === 'head');
    expect(heads).toHaveLength(4);
    expect(heads.every((e) => e.registry === 'docker.io' && e.status === 200 && e.rateLimitRemaining === 76)).toBe(true);
    expect(events.map((e) => e.kind)).toEqual(['ping', 'token', 'head', 'head', 'head', 'head']);
  });

  it('handles the plain-text HAP429 with Retry-After, then succeeds', async () => {
    const digest = sha(manifestBody);
    let heads = 0;
    serve('https://registry-1.docker.io', (req) => {
      if (req.path === '/v2/') return { status: 200 };
      heads++;
      if (heads === 1) return { status: 429, body: 'HAP429', headers: { 'content-type': 'text/plain', 'retry-after': '1' } };
      return { status: 200, headers: { 'docker-content-digest': digest, 'content-type': MEDIA_TYPES.ociManifest } };
    });
    const started = Date.now();
    const head = await client().headManifest(parseReference('alpine:3'));
    expect(head.digest).toBe(digest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(events.filter((e) => e.kind === 'head').map((e) => e.status)).toEqual([429, 200]);
  });

  it('fails at once, retryable, when Retry-After is longer than allowed', async () => {
    serve('https://registry-1.docker.io', (req) =>
      req.path === '/v2/' ? { status: 200 } : { status: 429, body: 'HAP429', headers: { 'content-type': 'text/plain', 'retry-after': '120' } },
    );
    const started = Date.now();
    const err = await client().headManifest(parseReference('alpine:3')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).message).toBe('docker.io/library/alpine:3: rate limited (429), retry after 2m');
    expect((err as RegistryError).retryable).toBe(true);
    expect((err as RegistryError).retryAfterMs).toBe(120_000);
    expect(Date.now() - started).toBeLessThan(10_000); // far below the 120 s it was asked to wait
    expect(events.filter((e) => e.kind === 'head')).toHaveLength(1);
  });

  it('gives up after the retries with a one-line rate-limit error', async () => {
    serve('https://registry-1.docker.io', (req) => (req.path === '/v2/' ? { status: 200 } : { status: 429, body: 'HAP429', headers: { 'content-type': 'text/plain' } }));
    const err = await client({ retries: 2 }).headManifest(parseReference('alpine:3')).catch((e: unknown) => e);
    expect((err as RegistryError).message).toBe('docker.io/library/alpine:3: rate limited (429)');
    expect((err as RegistryError).retryable).toBe(true);
    expect(events.filter((e) => e.kind === 'head')).toHaveLength(3);
  });
});

describe('manifests', () => {
  it('GETs and hashes the exact bytes when HEAD has no Docker-Content-Digest', async () => {
    // Two spaces and a newline: re-serialising the JSON would change the digest.
    const body = `${manifestBody.replace('{', '{  ')}\n`;
    serve('https://old.example', (req) => {
      if (req.path === '/v2/') return { status: 200 };
      if (req.method === 'HEAD') return { status: 200, headers: { 'content-type': MEDIA_TYPES.ociManifest } };
      return { status: 200, body, headers: { 'content-type': MEDIA_TYPES.ociManifest } };
    });
    const head = await client().headManifest(parseReference('old.example/app:1'));
    expect(head.digest).toBe(sha(body));
    expect(head.mediaType).toBe(MEDIA_TYPES.ociManifest);
    expect(head.manifest?.json).toEqual(JSON.parse(body));
    expect(events.map((e) => e.kind)).toEqual(['ping', 'head', 'manifest']);
  });

  it('turns a HEAD 500 for a missing manifest into the GET answer', async () => {
    serve('https://quirky.example', (req) => {
      if (req.path === '/v2/') return { status: 200 };
      if (req.method === 'HEAD') return { status: 500 };
      return { status: 404, body: JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }), headers: { 'content-type': 'application/json' } };
    });
    const digest = sha('missing');
    const err = await client().headManifest(parseReference(`quirky.example/app@${digest}`)).catch((e: unknown) => e);
    expect((err as RegistryError).message).toBe(`quirky.example/app@${digest}: manifest unknown (404)`);
    expect(events.map((e) => `${e.kind} ${e.status}`)).toEqual(['ping 200', 'head 500', 'manifest 404']);
  });

  it('rejects a manifest whose bytes do not match the digest', async () => {
    serve('https://liar.example', (req) =>
      req.path === '/v2/' ? { status: 200 } : { status: 200, body: manifestBody, headers: { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': sha('other') } },
    );
    const err = await client().getManifest(parseReference('liar.example/app:1'), '1').catch((e: unknown) => e);
    expect((err as RegistryError).message).toMatch(/^liar\.example\/app:1: manifest digest mismatch/);
  });

  it('aborts a manifest larger than the limit', async () => {
    serve('https://big.example', (req) => (req.path === '/v2/' ? { status: 200 } : { status: 200, body: Buffer.alloc(5000, 32), headers: { 'content-type': MEDIA_TYPES.ociManifest } }));
    const err = await client({ maxManifestBytes: 4096 }).getManifest(parseReference('big.example/app:1'), '1').catch((e: unknown) => e);
    expect((err as RegistryError).message).toMatch(/^big\.example\/app:1: response .*exceeds the limit of 4096 bytes$/);
  });
});

describe('tokens and challenges', () => {
  it('accepts a token response with access_token only and no expires_in (60 s)', async () => {
    let now = 1_000_000;
    let tokens = 0;
    serve('https://gar.example', (req) => {
      if (req.path === '/v2/') return { status: 401, headers: { 'www-authenticate': 'Bearer realm="https://gar.example/v2/token"' } };
      if (req.path.startsWith('/v2/token')) {
        tokens++;
        return { status: 200, body: JSON.stringify({ access_token: `at-${tokens}` }), headers: { 'content-type': 'application/json' } };
      }
      expect(req.headers.authorization).toBe(`Bearer at-${tokens}`);
      return { status: 200, headers: { 'docker-content-digest': sha(manifestBody), 'content-type': MEDIA_TYPES.ociManifest } };
    });
    const c = client({ now: () => now });
    const ref = parseReference('gar.example/p/r/app:1');
    await c.headManifest(ref);
    // Without service in the challenge, none is sent (GAR).
    expect(seen[1]?.path).toBe('/v2/token?scope=repository%3Ap%2Fr%2Fapp%3Apull');
    now += 50_000;
    await c.headManifest(ref);
    expect(tokens).toBe(1);
    now += 11_000; // 61 s after the token was issued
    await c.headManifest(ref);
    expect(tokens).toBe(2);
  });

  it('retries once with the scope an insufficient_scope challenge names, then reuses that token', async () => {
    serve('https://scoped.example', (req) => {
      if (req.path === '/v2/') return { status: 401, headers: bearer('https://scoped.example/token') };
      if (req.path.startsWith('/token')) {
        const scopes = new URL(req.path, 'https://x').searchParams.getAll('scope');
        return { status: 200, body: JSON.stringify({ token: scopes.join('+'), expires_in: 300 }), headers: { 'content-type': 'application/json' } };
      }
      if (req.headers.authorization !== 'Bearer repository(plugin):team/app:pull') {
        return { status: 401, headers: bearer('https://scoped.example/token', ',scope="repository(plugin):team/app:pull",error="insufficient_scope"') };
      }
      return { status: 200, headers: { 'docker-content-digest': sha(manifestBody), 'content-type': MEDIA_TYPES.ociManifest } };
    });
    const c = client();
    const ref = parseReference('scoped.example/team/app:1');
    await c.headManifest(ref);
    expect(events.map((e) => `${e.kind} ${e.status}`)).toEqual(['ping 401', 'token 200', 'head 401', 'token 200', 'head 200']);
    events.length = 0;
    await c.headManifest(ref);
    expect(events.map((e) => `${e.kind} ${e.status}`)).toEqual(['head 200']);
  });

  it('reports Harbor-style 401 after a freshly issued token as unauthorized, without looping', async () => {
    serve('https://harbor.example', (req) => {
      if (req.path === '/v2/') return { status: 401, headers: bearer('https://harbor.example/service/token') };
      if (req.path.startsWith('/service/token')) return { status: 200, body: JSON.stringify({ token: 'anything', expires_in: 1800 }), headers: { 'content-type': 'application/json' } };
      return { status: 401, headers: bearer('https://harbor.example/service/token', ',scope="repository:proj/app:pull",error="insufficient_scope"') };
    });
    const c = client({ registries: [entry('harbor.example', { username: 'robot$ci', password: 'wrong-secret' })] });
    const err = await c.headManifest(parseReference('harbor.example/proj/app:2')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).message).toBe('harbor.example/proj/app:2: unauthorized (401): check the credentials for harbor.example (registries entry "harbor.example")');
    expect((err as RegistryError).message).not.toContain('wrong-secret');
    expect(events.map((e) => e.kind)).toEqual(['ping', 'token', 'head']);
    expect(seen[1]?.headers.authorization).toBe(`Basic ${Buffer.from('robot$ci:wrong-secret').toString('base64')}`);
  });

  it('refuses to send credentials to an http:// realm of a registry that is not insecure', async () => {
    serve('https://tls.example', (req) => (req.path === '/v2/' ? { status: 401, headers: bearer('http://auth.tls.example/token') } : { status: 500 }));
    const c = client({ registries: [entry('tls.example', { username: 'u', password: 'p' })] });
    const err = await c.headManifest(parseReference('tls.example/app:1')).catch((e: unknown) => e);
    expect((err as RegistryError).message).toBe('tls.example/app:1: refusing to send credentials to the plain-http token realm auth.tls.example (mark the registry insecure to allow it)');
    expect(seen.map((s) => s.path)).toEqual(['/v2/']);
  });

  it('sends Basic credentials directly for a realm that is not a URL (Artifactory, Nexus BASIC)', async () => {
    serve('https://artifactory.example', (req) => {
      if (req.path === '/v2/') return { status: 401, headers: { 'www-authenticate': 'BASIC realm="Artifactory Realm"' } };
      if (req.headers.authorization !== `Basic ${Buffer.from('u:p').toString('base64')}`) return { status: 401, headers: { 'www-authenticate': 'Basic realm="Artifactory Realm"' } };
      return { status: 200, headers: { 'docker-content-digest': sha(manifestBody), 'content-type': MEDIA_TYPES.dockerManifest } };
    });
    const c = client({ registries: [entry('artifactory.example/docker-remote', { username: 'u', password: 'p' })] });
    expect((await c.headManifest(parseReference('artifactory.example/docker-remote/app:1'))).mediaType).toBe(MEDIA_TYPES.dockerManifest);
    // Another path on the same host has no entry: anonymous, and a clear error.
    const err = await c.headManifest(parseReference('artifactory.example/other/app:1')).catch((e: unknown) => e);
    expect((err as RegistryError).message).toMatch(/^artifactory\.example\/other\/app:1: unauthorized \(401\): no credentials for artifactory\.example/);
  });
});

describe('blobs', () => {
  it('follows a redirect to storage on another host without the Authorization header', async () => {
    const config = Buffer.from(JSON.stringify({ created: '2026-01-02T03:04:05Z', config: { Labels: { a: 'b' } } }));
    const digest = sha(config);
    serve('https://reg.example', (req) => {
      if (req.path === '/v2/') return { status: 401, headers: bearer('https://reg.example/token') };
      if (req.path.startsWith('/token')) return { status: 200, body: '{"token":"secret-token"}', headers: { 'content-type': 'application/json' } };
      expect(req.headers.authorization).toBe('Bearer secret-token');
      if (req.path === `/v2/app/blobs/${digest}`) return { status: 307, headers: { location: `/v2/app/blobs/moved/${digest}` } };
      return { status: 307, headers: { location: `https://storage.example/bucket/${digest.slice(7)}?X-Amz-Signature=abc` } };
    });
    serve('https://storage.example', () => ({ status: 200, body: config, headers: { 'content-type': 'application/octet-stream' } }));
    const info = await client().getImageConfig(parseReference('reg.example/app:1'), digest);
    expect(info).toEqual({ created: '2026-01-02T03:04:05Z', labels: { a: 'b' } });
    const storage = seen.find((s) => s.origin === 'https://storage.example');
    expect(storage?.headers.authorization).toBeUndefined();
    // The same-host hop kept it.
    expect(seen.filter((s) => s.path.includes('/moved/'))[0]?.headers.authorization).toBe('Bearer secret-token');
  });

  it('rejects a blob whose bytes do not match its digest, and stops after 5 redirects', async () => {
    const digest = sha('expected');
    serve('https://loop.example', (req) => {
      if (req.path === '/v2/') return { status: 200 };
      if (req.path.includes('/loop')) return { status: 302, headers: { location: '/loop' } };
      if (req.path.endsWith(digest)) return { status: 200, body: 'something else' };
      return { status: 404 };
    });
    const c = client();
    const err = await c.getBlob(parseReference('loop.example/app:1'), digest).catch((e: unknown) => e);
    expect((err as RegistryError).message).toMatch(/^loop\.example\/app:1: blob digest mismatch/);
    serve('https://loop2.example', (req) => (req.path === '/v2/' ? { status: 200 } : { status: 302, headers: { location: '/loop' } }));
    const err2 = await c.getBlob(parseReference('loop2.example/app:1'), digest).catch((e: unknown) => e);
    expect((err2 as RegistryError).message).toBe('loop2.example/app:1: more than 5 redirects');
  });
});

describe('references that go into a request path', () => {
  it('refuses a platform digest from a broken index before sending it, in one line naming the image', async () => {
    serve('https://broken.example', () => ({ status: 200, body: '{}', headers: { 'content-type': 'application/json' } }));
    const c = client();
    const ref = parseReference('broken.example/acme/app:1.0');
    for (const bad of ['sha256:../../../v2/other/manifests/x', 'sha256:abc def', 'x?y#z', 'a/b']) {
      const err = await c.getManifest(ref, bad).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toMatch(/^broken\.example\/acme\/app[@:].*: invalid manifest reference "/);
      expect((err as Error).message).not.toContain('\n');
    }
    expect(seen.filter((s) => s.path.includes('manifests'))).toEqual([]);
    // Tags and digests as registries write them still go out as they are.
    const digest = sha(manifestBody);
    await expect(c.getManifest(ref, digest)).rejects.toThrow(/digest mismatch|manifest/);
    expect(seen.some((s) => s.path === `/v2/acme/app/manifests/${digest}`)).toBe(true);
  });
});
