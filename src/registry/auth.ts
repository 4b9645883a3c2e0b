/**
 * Where credentials come from, and the cache of bearer tokens.
 *
 * Order for one image: the longest-prefix `registries` entry when it names a username; otherwise
 * Docker's config.json — `credHelpers[registry]`, then `credsStore`, then `auths`. Docker Hub's
 * key there is 'https://index.docker.io/v1/'; keys are compared after dropping scheme and path, so
 * 'ghcr.io', 'https://ghcr.io' and 'https://ghcr.io/v1/' all name ghcr.io.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { RegistryConfig } from '../config/schema.js';
import { errorMessage } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { DOCKER_HUB, normalizeRegistryHost } from '../model/reference.js';
import { matchRegistryEntry } from './entries.js';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages: 'registries entry "corp"', 'docker config.json', … Never the secret. */
  source: string;
}

/** The server URL Docker uses for a registry in config.json and with credential helpers. */
export function dockerServerUrl(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

/** 'https://Index.Docker.io/v1/' → 'docker.io'; 'registry.example.com:5000/team' → 'registry.example.com:5000'. */
export function normalizeConfigKey(key: string): string {
  const noScheme = key.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const host = noScheme.split('/')[0] ?? '';
  return normalizeRegistryHost(host);
}

// ---------------------------------------------------------------------------------------------
// Docker config.json

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}
interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG && env.DOCKER_CONFIG.length > 0 ? env.DOCKER_CONFIG : join(homedir(), '.docker');
  return join(dir, 'config.json');
}

const HELPER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HELPER_TIMEOUT_MS = 10_000;
/** Helper answers are reused for a while: a check every few minutes should not spawn a process each time. */
const HELPER_CACHE_MS = 10 * 60_000;
const HELPER_FAILURE_CACHE_MS = 60_000;

/** Runs `docker-credential-<name> get` with the server URL on stdin. Undefined when it has nothing. */
export function runCredentialHelper(name: string, serverUrl: string, logger: Logger = silentLogger): Promise<{ username: string; secret: string } | undefined> {
  if (!HELPER_NAME.test(name)) {
    logger.debug({ helper: name }, 'ignoring credential helper with an unsafe name');
    return Promise.resolve(undefined);
  }
  const program = `docker-credential-${name}`;
  return new Promise((resolve) => {
    const child = execFile(program, ['get'], { timeout: HELPER_TIMEOUT_MS, maxBuffer: 1024 * 1024, encoding: 'utf8' }, (err, stdout) => {
      if (err) {
        // Helpers exit 1 with "credentials not found in native keychain" when they have nothing.
        const reason = errorMessage(err).split('\n')[0];
        logger.debug({ helper: program, server: serverUrl, reason }, 'credential helper gave no credentials; going anonymous');
        resolve(undefined);
        return;
      }
      try {
        const out = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
        if (typeof out.Username !== 'string' || typeof out.Secret !== 'string' || out.Secret.length === 0) {
          logger.debug({ helper: program, server: serverUrl }, 'credential helper answered without Username/Secret');
          resolve(undefined);
          return;
        }
        resolve({ username: out.Username, secret: out.Secret });
      } catch {
        logger.debug({ helper: program, server: serverUrl }, 'credential helper printed something that is not JSON');
        resolve(undefined);
      }
    });
    child.stdin?.on('error', () => {}); // a helper that exits before reading stdin must not crash us
    child.stdin?.end(serverUrl);
  });
}

export interface CredentialStoreOptions {
  registries?: readonly RegistryConfig[];
  dockerConfigPath?: string;
  logger?: Logger;
  now?: () => number;
}

export class CredentialStore {
  private readonly registries: readonly RegistryConfig[];
  private readonly dockerConfigPath: string;
  private readonly logger: Logger;
  private readonly now: () => number;
  private dockerConfig?: Promise<DockerConfigFile | undefined>;
  private readonly helperCache = new Map<string, { value: Credentials | undefined; until: number }>();

  constructor(opts: CredentialStoreOptions = {}) {
    this.registries = opts.registries ?? [];
    this.dockerConfigPath = opts.dockerConfigPath ?? defaultDockerConfigPath();
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
  }

  entryFor(registry: string, repository: string): RegistryConfig | undefined {
    return matchRegistryEntry(this.registries, registry, repository);
  }

  /** lookup() of each repository, with one lookup per registries entry (or per registry, from docker's config.json) rather than one per repository. */
  lookupAll(repositories: ReadonlyArray<{ registry: string; repository: string }>): Promise<Array<Credentials | undefined>> {
    const lookups = new Map<unknown, Promise<Credentials | undefined>>();
    return Promise.all(
      repositories.map(({ registry, repository }) => {
        const entry = this.entryFor(registry, repository);
        // What lookup() answers depends on this alone.
        const key = entry?.username !== undefined && entry.username.length > 0 ? entry : registry;
        let lookup = lookups.get(key);
        if (lookup === undefined) lookups.set(key, (lookup = this.lookup(registry, repository)));
        return lookup;
      }),
    );
  }

  /** Credentials for an image, or undefined for anonymous access. Never throws. */
  async lookup(registry: string, repository: string): Promise<Credentials | undefined> {
    const entry = this.entryFor(registry, repository);
    if (entry?.username !== undefined && entry.username.length > 0) {
      return { username: entry.username, password: entry.password ?? '', source: `registries entry "${entry.name}"` };
    }
    return this.fromDockerConfig(registry);
  }

  private loadDockerConfig(): Promise<DockerConfigFile | undefined> {
    this.dockerConfig ??= (async () => {
      let text: string;
      try {
        text = await readFile(this.dockerConfigPath, 'utf8');
      } catch (err) {
        this.logger.debug({ path: this.dockerConfigPath, reason: errorMessage(err) }, 'no docker config.json');
        return undefined;
      }
      try {
        const doc = JSON.parse(text) as unknown;
        if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
        return doc as DockerConfigFile;
      } catch (err) {
        this.logger.warn({ path: this.dockerConfigPath, reason: errorMessage(err) }, 'ignoring unreadable docker config.json');
        return undefined;
      }
    })();
    return this.dockerConfig;
  }

  private async fromDockerConfig(registry: string): Promise<Credentials | undefined> {
    const config = await this.loadDockerConfig();
    if (!config) return undefined;

    const authKey = findKey(config.auths, registry);
    const serverUrl = authKey ?? dockerServerUrl(registry);

    const helperKey = findKey(config.credHelpers, registry);
    const helper = helperKey !== undefined ? config.credHelpers?.[helperKey] : undefined;
    if (typeof helper === 'string' && helper.length > 0) {
      const creds = await this.fromHelper(helper, serverUrl);
      if (creds) return creds;
    } else if (typeof config.credsStore === 'string' && config.credsStore.length > 0) {
      const creds = await this.fromHelper(config.credsStore, serverUrl);
      if (creds) return creds;
    }

    const entry = authKey !== undefined ? config.auths?.[authKey] : undefined;
    if (!entry || typeof entry !== 'object') return undefined;
    const source = `${this.dockerConfigPath} (auths "${authKey}")`;
    if (typeof entry.auth === 'string' && entry.auth.length > 0) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1).replace(/\n$/, ''), source };
      this.logger.debug({ server: authKey }, 'docker config auth value is not base64 user:password');
    }
    if (typeof entry.username === 'string' && entry.username.length > 0 && typeof entry.password === 'string') {
      return { username: entry.username, password: entry.password, source };
    }
    if (typeof entry.identitytoken === 'string' && entry.identitytoken.length > 0) {
      // An OAuth2 refresh token (docker login with an identity provider). Not supported yet.
      this.logger.debug({ server: authKey }, 'docker config identitytoken is not supported; going anonymous');
    }
    return undefined;
  }

  private async fromHelper(helper: string, serverUrl: string): Promise<Credentials | undefined> {
    const key = `${helper}\n${serverUrl}`;
    const cached = this.helperCache.get(key);
    if (cached && cached.until > this.now()) return cached.value;
    const answer = await runCredentialHelper(helper, serverUrl, this.logger);
    let value: Credentials | undefined;
    if (answer && answer.username === '<token>') {
      this.logger.debug({ helper, server: serverUrl }, 'credential helper returned an identity token, which is not supported; going anonymous');
    } else if (answer) {
      value = { username: answer.username, password: answer.secret, source: `credential helper "docker-credential-${helper}"` };
    }
    this.helperCache.set(key, { value, until: this.now() + (value ? HELPER_CACHE_MS : HELPER_FAILURE_CACHE_MS) });
    return value;
  }
}

/** The key of a config.json map naming `registry`; Docker's canonical spelling preferred over other aliases. */
function findKey(map: Record<string, unknown> | undefined, registry: string): string | undefined {
  if (!map || typeof map !== 'object') return undefined;
  const keys = Object.keys(map);
  const canonical = dockerServerUrl(registry);
  if (keys.includes(canonical)) return canonical;
  return keys.find((k) => normalizeConfigKey(k) === registry);
}

export function basicAuthorization(creds: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}`;
}

// ---------------------------------------------------------------------------------------------
// Bearer token cache

/** Tokens are dropped this long before they expire (10% of the lifetime, at most 10 s), so a request never carries a token that dies in flight. */
export function expiryMargin(expiresInMs: number): number {
  return Math.min(10_000, Math.floor(expiresInMs / 10));
}

export const DEFAULT_TOKEN_LIFETIME_S = 60;

export class TokenCache {
  private readonly tokens = new Map<string, { token: string; header?: string; usableUntil: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  private lookup(key: string): { token: string; header?: string; usableUntil: number } | undefined {
    const hit = this.tokens.get(key);
    if (!hit) return undefined;
    if (this.now() >= hit.usableUntil) {
      this.tokens.delete(key);
      return undefined;
    }
    return hit;
  }

  get(key: string): string | undefined {
    return this.lookup(key)?.token;
  }

  /**
   * `Bearer <token>` for the cached token, built once and then shared by every request that carries
   * it: a token granting many scopes is several KiB, and a fresh copy per request is garbage.
   */
  authorization(key: string): string | undefined {
    const hit = this.lookup(key);
    if (!hit) return undefined;
    hit.header ??= `Bearer ${hit.token}`;
    return hit.header;
  }

  /** `header` (optional) is the ready `Bearer <token>` string, when the caller shares one among keys. */
  set(key: string, token: string, expiresInSeconds: number | undefined, header?: string): void {
    const lifetime = (expiresInSeconds !== undefined && Number.isFinite(expiresInSeconds) && expiresInSeconds > 0 ? expiresInSeconds : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const entry: { token: string; header?: string; usableUntil: number } = { token, usableUntil: this.now() + lifetime - expiryMargin(lifetime) };
    if (header !== undefined) entry.header = header;
    this.tokens.set(key, entry);
  }

  delete(key: string): void {
    this.tokens.delete(key);
  }

  /** Makes the token under `from` (with its expiry) also answer for `to`. */
  alias(from: string, to: string): void {
    const hit = this.tokens.get(from);
    if (hit) this.tokens.set(to, { ...hit });
  }
}
