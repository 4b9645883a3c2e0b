import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { RegistryConfig } from '../../../src/config/schema.js';
import {
  CredentialStore,
  defaultDockerConfigPath,
  expiryMargin,
  normalizeConfigKey,
  runCredentialHelper,
  TokenCache,
} from '../../../src/registry/auth.js';

function reg(name: string, host: string, extra: Partial<RegistryConfig> = {}): RegistryConfig {
  return { name, host, insecure: false, timeout: 15_000, ...extra };
}

describe('docker config keys', () => {
  it('name a registry whatever their scheme and path', () => {
    expect(normalizeConfigKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeConfigKey('http://localhost:5000/v2/')).toBe('localhost:5000');
    expect(normalizeConfigKey('ghcr.io')).toBe('ghcr.io');
  });
});

describe('docker config credentials', () => {
  let dir: string;
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'herald-auth-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function store(config: unknown, registries: RegistryConfig[] = []): Promise<CredentialStore> {
    const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, typeof config === 'string' ? config : JSON.stringify(config));
    return new CredentialStore({ dockerConfigPath: path, registries });
  }

  it('reads auths: base64 auth, username/password, Docker Hub key, keys with scheme or /v1/', async () => {
    const s = await store({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
        'https://ghcr.io': { username: 'gh', password: 'ghp' },
        'quay.io/v1/': { auth: b64('q:qp') },
        'localhost:5000': { auth: b64('l:lp') },
      },
    });
    expect(await s.lookup('docker.io', 'library/nginx')).toMatchObject({ username: 'hubuser', password: 'hub:pass' });
    expect(await s.lookup('ghcr.io', 'a/b')).toMatchObject({ username: 'gh', password: 'ghp' });
    expect(await s.lookup('quay.io', 'a/b')).toMatchObject({ username: 'q', password: 'qp' });
    expect(await s.lookup('localhost:5000', 'a')).toMatchObject({ username: 'l', password: 'lp' });
    expect(await s.lookup('example.com', 'a')).toBeUndefined();
  });

  it('lets a registries entry with a username win, and ignores one without', async () => {
    const s = await store({ auths: { 'ghcr.io': { auth: b64('docker:cfg') } } }, [
      reg('gh-team', 'ghcr.io/team', { username: 'bot', password: 'secret' }),
      reg('gh', 'ghcr.io', { insecure: false }),
    ]);
    expect(await s.lookup('ghcr.io', 'team/app')).toEqual({ username: 'bot', password: 'secret', source: 'registries entry "gh-team"' });
    expect(await s.lookup('ghcr.io', 'other/app')).toMatchObject({ username: 'docker', password: 'cfg' });
  });

  it('goes anonymous for identity tokens, a missing file and a broken file', async () => {
    expect(await (await store({ auths: { 'ghcr.io': { identitytoken: 'refresh' } } })).lookup('ghcr.io', 'a')).toBeUndefined();
    expect(await new CredentialStore({ dockerConfigPath: join(dir, 'nope.json') }).lookup('ghcr.io', 'a')).toBeUndefined();
    expect(await (await store('{not json')).lookup('ghcr.io', 'a')).toBeUndefined();
  });

  it('reads config.json once', async () => {
    const path = join(dir, 'once.json');
    await writeFile(path, JSON.stringify({ auths: { 'ghcr.io': { auth: b64('a:1') } } }));
    const s = new CredentialStore({ dockerConfigPath: path });
    expect(await s.lookup('ghcr.io', 'x')).toMatchObject({ password: '1' });
    await writeFile(path, JSON.stringify({ auths: { 'ghcr.io': { auth: b64('a:2') } } }));
    expect(await s.lookup('ghcr.io', 'x')).toMatchObject({ password: '1' });
  });

  it('uses DOCKER_CONFIG for the default path', () => {
    expect(defaultDockerConfigPath({ DOCKER_CONFIG: '/cfg' })).toBe(join('/cfg', 'config.json'));
    expect(defaultDockerConfigPath({})).toMatch(/\.docker[/\\]config\.json$/);
  });

  describe('credential helpers (a real docker-credential-herald-test on PATH)', () => {
    let savedPath: string | undefined;
    let logFile: string;

    beforeAll(async () => {
      const bin = join(dir, 'bin');
      await (await import('node:fs/promises')).mkdir(bin, { recursive: true });
      logFile = join(dir, 'helper.log');
      // Answers like docker-credential-pass/osxkeychain: JSON for known servers, exit 1 otherwise.
      const script = `#!/bin/sh
[ "$1" = "get" ] || { echo "unknown action $1" >&2; exit 2; }
read -r server
echo "$server" >> "${logFile}"
case "$server" in
  ghcr.io) printf '{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"helper-secret"}\\n' ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"hub-helper","Secret":"hub-secret"}\\n' "$server" ;;
  token.example) printf '{"ServerURL":"token.example","Username":"<token>","Secret":"refresh-token"}\\n' ;;
  garbage.example) echo "this is not json" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
      const helper = join(bin, 'docker-credential-herald-test');
      await writeFile(helper, script);
      await chmod(helper, 0o755);
      savedPath = process.env.PATH;
      process.env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`;
    });
    afterAll(() => {
      process.env.PATH = savedPath;
    });

    it('runs the helper with the server URL on stdin', async () => {
      expect(await runCredentialHelper('herald-test', 'ghcr.io')).toEqual({ username: 'helper-user', secret: 'helper-secret' });
      expect(await runCredentialHelper('herald-test', 'nothing.example')).toBeUndefined();
      expect(await runCredentialHelper('herald-test', 'garbage.example')).toBeUndefined();
      expect(await runCredentialHelper('does-not-exist-herald', 'ghcr.io')).toBeUndefined();
      expect(await runCredentialHelper('../evil', 'ghcr.io')).toBeUndefined();
    });

    it('uses credHelpers for its registry, with the Docker Hub server URL', async () => {
      const s = await store({ credHelpers: { 'ghcr.io': 'herald-test', 'docker.io': 'herald-test' }, auths: { 'quay.io': { auth: b64('q:qp') } } });
      expect(await s.lookup('ghcr.io', 'a/b')).toMatchObject({ username: 'helper-user', password: 'helper-secret', source: 'credential helper "docker-credential-herald-test"' });
      expect(await s.lookup('docker.io', 'library/nginx')).toMatchObject({ username: 'hub-helper', password: 'hub-secret' });
      expect(await s.lookup('quay.io', 'a')).toMatchObject({ username: 'q' });
      const log = await readFile(logFile, 'utf8');
      expect(log).toContain('https://index.docker.io/v1/\n');
    });

    it('uses credsStore, then auths when the store has nothing', async () => {
      const s = await store({ credsStore: 'herald-test', auths: { 'ghcr.io': {}, 'other.example': { auth: b64('o:op') } } });
      expect(await s.lookup('ghcr.io', 'a')).toMatchObject({ username: 'helper-user' });
      expect(await s.lookup('other.example', 'a')).toMatchObject({ username: 'o', password: 'op' });
      expect(await s.lookup('token.example', 'a')).toBeUndefined(); // identity token: not supported, anonymous
    });

    it('caches helper answers instead of spawning per lookup', async () => {
      const s = await store({ credHelpers: { 'ghcr.io': 'herald-test' } });
      const before = (await readFile(logFile, 'utf8')).split('\n').length;
      await s.lookup('ghcr.io', 'a');
      await s.lookup('ghcr.io', 'b');
      await s.lookup('ghcr.io', 'c');
      expect((await readFile(logFile, 'utf8')).split('\n').length).toBe(before + 1);
    });

    it('goes anonymous when the helper is missing', async () => {
      const s = await store({ credsStore: 'no-such-helper-herald' });
      expect(await s.lookup('ghcr.io', 'a')).toBeUndefined();
    });
  });
});

describe('TokenCache', () => {
  it('keeps a token until shortly before it expires', () => {
    let now = 1_000_000;
    const cache = new TokenCache(() => now);
    cache.set('k', 't', 300);
    now += 289_000;
    expect(cache.get('k')).toBe('t');
    now += 1_001;
    expect(cache.get('k')).toBeUndefined();
  });
  it('assumes 60 s without expires_in', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('k', 't', undefined);
    now = 53_000;
    expect(cache.get('k')).toBe('t');
    now = 54_000;
    expect(cache.get('k')).toBeUndefined();
  });
  it('honours a 1 s lifetime and copies entries with alias', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('a', 't', 1);
    cache.alias('a', 'b');
    now = 800;
    expect(cache.get('b')).toBe('t');
    now = 950;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
    expect(expiryMargin(1000)).toBe(100);
    expect(expiryMargin(3_600_000)).toBe(10_000);
  });
});
