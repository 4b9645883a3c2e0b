// Proves the registry / token server / proxy fixtures work against a real docker-registry.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_ACCEPT, MEDIA_TYPES, startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';
import { killServes, spawnServe, tempDir, until, writeConfig } from './helpers.js';

function basic(user: string, pass: string): string {
  return 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
}

async function head(url: string, headers: Record<string, string> = {}): Promise<Response> {
  const res = await fetch(url, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT, ...headers }, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res;
}

async function getToken(reg: TestRegistry, scopes: string[], auth?: string): Promise<Response> {
  const ts = reg.tokenServer!;
  const q = new URLSearchParams({ service: ts.service });
  for (const s of scopes) q.append('scope', s);
  return fetch(`${ts.url}?${q}`, { headers: auth ? { authorization: auth } : {}, signal: AbortSignal.timeout(5000) });
}

describe('test fixtures', () => {
  let plain: TestRegistry;
  let htpasswd: TestRegistry;
  let token: TestRegistry;
  beforeAll(async () => {
    // How fast they start is not asserted here (no timed tests in the suite; a loaded CI machine
    // would make that flaky); the hook timeout bounds it.
    [plain, htpasswd, token] = await Promise.all([startRegistry({ auth: 'none' }), startRegistry({ auth: 'htpasswd' }), startRegistry({ auth: 'token' })]);
  });

  afterAll(async () => {
    await Promise.all([plain?.stop(), htpasswd?.stop(), token?.stop()]);
  });

  it('starts each auth mode', async () => {
    expect(plain.url).toBe(`http://${plain.host}`);
    expect(plain.auth).toBe('none');
    expect(htpasswd.username && htpasswd.password).toBeTruthy();
    expect(token.tokenServer?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/token$/);
    const ping = await fetch(`${plain.url}/v2/`);
    expect(ping.status).toBe(200);
  });

  it('no-auth registry: push, HEAD, GET, tags, delete; docker format', async () => {
    const oci = await plain.pushImage('team/app', '1.0.0', { labels: { 'org.opencontainers.image.version': '1.0.0' } });
    expect(oci.mediaType).toBe(MEDIA_TYPES.ociManifest);
    const again = await plain.pushImage('team/app', '1.0.0', { labels: { 'org.opencontainers.image.version': '1.0.0' } });
    expect(again).toEqual(oci);
    const res = await head(`${plain.url}/v2/team/app/manifests/1.0.0`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(oci.digest);
    expect(res.headers.get('content-type')).toBe(MEDIA_TYPES.ociManifest);

    const get = await fetch(`${plain.url}/v2/team/app/manifests/1.0.0`, { headers: { accept: MANIFEST_ACCEPT } });
    const manifest = (await get.json()) as { config: { digest: string } };
    expect(manifest.config.digest).toBe(oci.configDigest);
    const cfg = await fetch(`${plain.url}/v2/team/app/blobs/${oci.configDigest}`);
    const config = (await cfg.json()) as { architecture: string; os: string; created: string; config: { Labels: Record<string, string> } };
    expect(config).toMatchObject({ architecture: 'amd64', os: 'linux', created: '2026-01-01T00:00:00Z' });
    expect(config.config.Labels['org.opencontainers.image.version']).toBe('1.0.0');

    const docker = await plain.pushImage('team/app', 'docker', { format: 'docker', seed: 'x' });
    expect(docker.mediaType).toBe(MEDIA_TYPES.dockerManifest);
    const dres = await head(`${plain.url}/v2/team/app/manifests/docker`);
    expect(dres.headers.get('docker-content-digest')).toBe(docker.digest);

    const tags = (await (await fetch(`${plain.url}/v2/team/app/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags.sort()).toEqual(['1.0.0', 'docker']);

    await plain.deleteManifest('team/app', docker.digest);
    expect((await head(`${plain.url}/v2/team/app/manifests/docker`)).status).toBe(404);
  });

  it('pushIndex: changing one platform changes the index digest, not the other platform digest', async () => {
    const first = await plain.pushIndex('multi', 'latest', [
      { platform: 'linux/amd64', seed: 'a1' },
      { platform: 'linux/arm64/v8', seed: 'b1' },
    ]);
    expect(first.mediaType).toBe(MEDIA_TYPES.ociIndex);
    expect(Object.keys(first.platforms).sort()).toEqual(['linux/amd64', 'linux/arm64/v8']);
    const second = await plain.pushIndex('multi', 'latest', [
      { platform: 'linux/amd64', seed: 'a1' },
      { platform: 'linux/arm64/v8', seed: 'b2' },
    ]);
    expect(second.digest).not.toBe(first.digest);
    expect(second.platforms['linux/amd64']?.digest).toBe(first.platforms['linux/amd64']?.digest);
    expect(second.platforms['linux/arm64/v8']?.digest).not.toBe(first.platforms['linux/arm64/v8']?.digest);
    const res = await head(`${plain.url}/v2/multi/manifests/latest`);
    expect(res.headers.get('docker-content-digest')).toBe(second.digest);
    // The platform manifests are reachable by digest.
    const plat = await head(`${plain.url}/v2/multi/manifests/${second.platforms['linux/arm64/v8']?.digest}`);
    expect(plat.status).toBe(200);

    // Docker manifest list, and OCI with buildx-like attestations.
    const list = await plain.pushIndex('multi', 'docker', [{ platform: 'linux/amd64' }, { platform: 'linux/arm/v7' }], { format: 'docker' });
    expect(list.mediaType).toBe(MEDIA_TYPES.dockerList);
    expect(list.platforms['linux/arm/v7']?.mediaType).toBe(MEDIA_TYPES.dockerManifest);
    const att = await plain.pushIndex('multi', 'att', [{ platform: 'linux/amd64' }], { attestation: true });
    const idx = (await (
      await fetch(`${plain.url}/v2/multi/manifests/att`, { headers: { accept: MANIFEST_ACCEPT } })
    ).json()) as { manifests: Array<{ digest: string; platform: { os: string }; annotations?: Record<string, string> }> };
    expect(idx.manifests).toHaveLength(2);
    expect(idx.manifests[1]?.platform.os).toBe('unknown');
    expect(idx.manifests[1]?.annotations?.['vnd.docker.reference.digest']).toBe(att.platforms['linux/amd64']?.digest);
    expect(att.attestations).toHaveLength(1);
  });

  it('htpasswd registry: anonymous 401 with Basic challenge; valid creds work; wrong creds 401', async () => {
    const pushed = await htpasswd.pushImage('private/app', 'v1');
    const anon = await head(`${htpasswd.url}/v2/private/app/manifests/v1`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
    const ok = await head(`${htpasswd.url}/v2/private/app/manifests/v1`, { authorization: basic(htpasswd.username!, htpasswd.password!) });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('docker-content-digest')).toBe(pushed.digest);
    const bad = await head(`${htpasswd.url}/v2/private/app/manifests/v1`, { authorization: basic(htpasswd.username!, 'nope') });
    expect(bad.status).toBe(401);
  });

  it('token registry: challenge, token with valid creds, HEAD digest; anonymous and wrong creds fail', async () => {
    const reg = token;
    const ts = reg.tokenServer!;
    const pushed = await reg.pushImage('private/app', 'v1');
    expect(ts.requests).toHaveLength(0); // fixture-internal tokens are not recorded

    const anon = await head(`${reg.url}/v2/private/app/manifests/v1`);
    expect(anon.status).toBe(401);
    const challenge = anon.headers.get('www-authenticate') ?? '';
    expect(challenge).toContain(`Bearer realm="${ts.url}"`);
    expect(challenge).toContain(`service="${ts.service}"`);
    expect(challenge).toContain('scope="repository:private/app:pull"');

    const tokRes = await getToken(reg, ['repository:private/app:pull'], basic(reg.username!, reg.password!));
    expect(tokRes.status).toBe(200);
    const body = (await tokRes.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    expect(Number.isNaN(Date.parse(body.issued_at))).toBe(false);
    const ok = await head(`${reg.url}/v2/private/app/manifests/v1`, { authorization: `Bearer ${body.token}` });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('docker-content-digest')).toBe(pushed.digest);
    expect(ts.requests.at(-1)).toMatchObject({ scope: ['repository:private/app:pull'], account: reg.username, authorized: true });

    // The pull user gets no push.
    const pushTok = (await (await getToken(reg, ['repository:private/app:pull,push'], basic(reg.username!, reg.password!))).json()) as { token: string };
    const upload = await fetch(`${reg.url}/v2/private/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${pushTok.token}` } });
    expect(upload.status).toBe(401);
    expect(ts.requests.at(-1)?.granted).toEqual([{ type: 'repository', name: 'private/app', actions: ['pull'] }]);

    // Anonymous: a token with empty access, so the registry still says 401.
    const anonTok = await getToken(reg, ['repository:private/app:pull']);
    expect(anonTok.status).toBe(200);
    const anonBody = (await anonTok.json()) as { token: string };
    const denied = await head(`${reg.url}/v2/private/app/manifests/v1`, { authorization: `Bearer ${anonBody.token}` });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect(ts.requests.at(-1)).toMatchObject({ authorized: false, granted: [] });

    // Wrong credentials: 401 from the token server itself.
    const wrong = await getToken(reg, ['repository:private/app:pull'], basic(reg.username!, 'wrong'));
    expect(wrong.status).toBe(401);
    expect(ts.requests.at(-1)).toMatchObject({ status: 401, authorized: false, account: reg.username });
  });

  it('token registry: multi-scope tokens and kid-style JWT headers are accepted', async () => {
    const reg = token;
    const ts = reg.tokenServer!;
    const [a, b] = await Promise.all([reg.pushImage('one/a', 't'), reg.pushImage('two/b', 't')]);
    // Two scope params plus a space-separated pair in one param: all granted.
    const q = new URLSearchParams({ service: ts.service });
    q.append('scope', 'repository:one/a:pull');
    q.append('scope', 'repository:two/b:pull repository:three/c:pull');
    const res = await fetch(`${ts.url}?${q}`, { headers: { authorization: basic(reg.username!, reg.password!) } });
    const { token: tok } = (await res.json()) as { token: string };
    expect(ts.requests.at(-1)?.scope).toEqual(['repository:one/a:pull', 'repository:two/b:pull', 'repository:three/c:pull']);
    for (const [repo, pushed] of [['one/a', a], ['two/b', b]] as const) {
      const r = await head(`${reg.url}/v2/${repo}/manifests/t`, { authorization: `Bearer ${tok}` });
      expect(r.headers.get('docker-content-digest')).toBe(pushed.digest);
    }
    const claims = JSON.parse(Buffer.from(tok.split('.')[1]!, 'base64url').toString()) as { access: unknown[]; aud: string };
    expect(claims.access).toHaveLength(3);
    expect(claims.aud).toBe(ts.service);

    ts.keyHeader = 'kid';
    try {
      const kidTok = (await (await getToken(reg, ['repository:one/a:pull'], basic(reg.username!, reg.password!))).json()) as { token: string };
      const header = JSON.parse(Buffer.from(kidTok.token.split('.')[0]!, 'base64url').toString()) as { kid?: string; x5c?: unknown };
      expect(header.kid).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
      expect(header.x5c).toBeUndefined();
      const r = await head(`${reg.url}/v2/one/a/manifests/t`, { authorization: `Bearer ${kidTok.token}` });
      expect(r.status).toBe(200);
    } finally {
      ts.keyHeader = 'x5c';
    }
  });

  describe('counting proxy', () => {
    let proxy: CountingProxy;
    beforeAll(async () => {
      proxy = await startCountingProxy(token.url);
    });
    afterAll(async () => {
      await proxy?.stop();
    });

    it('counts a HEAD as head, forwards auth headers and challenges, stops forwarding when down', async () => {
      const pushed = await token.pushImage('proxied/app', '2.0');
      proxy.reset();
      const anon = await head(`${proxy.url}/v2/proxied/app/manifests/2.0`);
      expect(anon.status).toBe(401);
      // Realm is not rewritten: it still points at the token server.
      expect(anon.headers.get('www-authenticate')).toContain(`realm="${token.tokenServer!.url}"`);
      const ok = await head(`${proxy.url}/v2/proxied/app/manifests/2.0`, token.adminHeaders('proxied/app'));
      expect(ok.status).toBe(200);
      expect(ok.headers.get('docker-content-digest')).toBe(pushed.digest);
      await (await fetch(`${proxy.url}/v2/`)).arrayBuffer();
      const get = await fetch(`${proxy.url}/v2/proxied/app/manifests/2.0`, {
        headers: { accept: MANIFEST_ACCEPT, ...token.adminHeaders('proxied/app') },
      });
      expect(get.status).toBe(200);
      await get.arrayBuffer();
      const blob = await fetch(`${proxy.url}/v2/proxied/app/blobs/${pushed.configDigest}`, { headers: token.adminHeaders('proxied/app') });
      expect(blob.status).toBe(200);
      await blob.arrayBuffer();
      expect(proxy.counts).toMatchObject({ head: 2, ping: 1, getManifest: 1, getBlob: 1, total: 5 });
      expect(proxy.log.map((l) => l.status)).toEqual([401, 200, 401, 200, 200]);

      proxy.setDelay(50);
      const t0 = performance.now();
      await head(`${proxy.url}/v2/proxied/app/manifests/2.0`, token.adminHeaders('proxied/app'));
      expect(performance.now() - t0).toBeGreaterThanOrEqual(45);
      proxy.setDelay(0);

      proxy.reset();
      proxy.setDown(true);
      await expect(head(`${proxy.url}/v2/proxied/app/manifests/2.0`)).rejects.toThrow();
      expect(proxy.counts.total).toBe(0);
      proxy.setDown(false);
      const back = await head(`${proxy.url}/v2/proxied/app/manifests/2.0`, token.adminHeaders('proxied/app'));
      expect(back.status).toBe(200);
      expect(proxy.counts.head).toBe(1);
    });
  });

  it('stop() ends the process and removes the temp dir', async () => {
    const reg = await startRegistry();
    await reg.pushImage('x', 'y');
    expect(existsSync(reg.dir)).toBe(true);
    await reg.stop();
    expect(existsSync(reg.dir)).toBe(false);
    await expect(fetch(`${reg.url}/v2/`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });
});

// The waits every serve test relies on: they must fail, and say what they were waiting for.
describe('spawnServe and until', () => {
  afterEach(killServes);

  it('until throws after its timeout, naming what it waited for', async () => {
    const started = Date.now();
    await expect(until(() => false, { what: 'godot', timeoutMs: 100, detail: () => 'the log tail' })).rejects.toThrow(/^timed out after 100 ms waiting for godot\nthe log tail$/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    let polls = 0;
    await until(() => ++polls === 3, { what: 'the third poll', intervalMs: 1 });
    expect(polls).toBe(3);
  });

  it('spawnServe throws, with the output, when serve exits before it started, or does not start in time', async () => {
    const tmp = tempDir();
    try {
      const bad = writeConfig(tmp.dir, `db: { path: ${join(tmp.dir, 'h.db')} }\nwatch: { wrokers: 2 }\n`, 'bad.yml');
      await expect(spawnServe(bad)).rejects.toThrow(/exited \(code 2, signal null\) before it logged .*watch\.wrokers/s);
      const good = writeConfig(tmp.dir, `db: { path: ${join(tmp.dir, 'h.db')} }\nwatch: { schedule: "0 0 1 1 *", runOnStartup: false }\n`);
      await expect(spawnServe(good, { waitFor: /a line serve never writes/, timeoutMs: 500 })).rejects.toThrow(/did not log .* within 500 ms/);
      const serve = await spawnServe(good);
      expect(serve.output()).toMatch(/herald serve started/);
      expect(await serve.stop()).toEqual({ code: 0, signal: null });
    } finally {
      tmp.cleanup();
    }
  });
});
