import { describe, expect, it } from 'vitest';
import type { RegistryConfig } from '../../../src/config/schema.js';
import { matchRegistryEntry, normalizeEntryHost, registryConcurrency } from '../../../src/registry/entries.js';

function reg(name: string, host: string, extra: Partial<RegistryConfig> = {}): RegistryConfig {
  return { name, host, insecure: false, timeout: 15_000, ...extra };
}

describe('registries entry matching', () => {
  const entries = [
    reg('corp', 'registry.example.com'),
    reg('team', 'registry.example.com/team'),
    reg('team-app', 'registry.example.com/team/app'),
    reg('local', 'localhost:5000'),
    reg('hub', 'index.docker.io'),
    reg('scheme', 'https://other.example/'),
  ];
  it.each([
    ['registry.example.com', 'x/y', 'corp'],
    ['registry.example.com', 'team/other', 'team'],
    ['registry.example.com', 'team/app', 'team-app'],
    ['registry.example.com', 'team/app/sub', 'team-app'],
    ['registry.example.com', 'teamx/app', 'corp'],
    ['localhost:5000', 'a', 'local'],
    ['docker.io', 'library/nginx', 'hub'],
    ['other.example', 'a/b', 'scheme'],
  ])('%s/%s → %s', (registry, repository, expected) => {
    expect(matchRegistryEntry(entries, registry, repository)?.name).toBe(expected);
  });
  it('does not match another port or host', () => {
    expect(matchRegistryEntry(entries, 'localhost:5001', 'a')).toBeUndefined();
    expect(matchRegistryEntry(entries, 'ghcr.io', 'a/b')).toBeUndefined();
  });
  it('normalizes hosts', () => {
    expect(normalizeEntryHost('Registry-1.Docker.io')).toBe('docker.io');
    expect(normalizeEntryHost('https://Corp.Example:5000/team/')).toBe('corp.example:5000/team');
  });
});

describe('registry concurrency', () => {
  it('is min(workers, 16) for a registry whose entries set none', () => {
    expect(registryConcurrency([], 10)('ghcr.io')).toBe(10);
    expect(registryConcurrency([reg('gh', 'ghcr.io')], 64)('ghcr.io')).toBe(16);
  });
  it("is the smallest of the host's entries, path prefixes and hub aliases included", () => {
    const limitOf = registryConcurrency(
      [
        reg('corp', 'https://registry.example.com', { concurrency: 8 }),
        reg('team', 'registry.example.com/team', { concurrency: 3 }),
        reg('hub', 'registry-1.docker.io', { concurrency: 2 }),
      ],
      10,
    );
    expect(limitOf('registry.example.com')).toBe(3);
    expect(limitOf('docker.io')).toBe(2);
    expect(limitOf('localhost:5000')).toBe(10);
  });
  it('may exceed the default when an entry asks for it', () => {
    expect(registryConcurrency([reg('gh', 'ghcr.io', { concurrency: 32 })], 64)('ghcr.io')).toBe(32);
  });
});
