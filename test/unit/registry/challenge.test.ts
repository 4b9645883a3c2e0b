import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { challengeScopes, chooseChallenge, parseWwwAuthenticate, pullScope } from '../../../src/registry/challenge.js';

describe('parseWwwAuthenticate', () => {
  const table: Array<[string, string, ReturnType<typeof parseWwwAuthenticate>]> = [
    [
      'Docker Hub',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io' } }],
    ],
    [
      'Docker Hub with scope (manifest 401)',
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } }],
    ],
    [
      'GHCR',
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:user/image:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:user/image:pull' } }],
    ],
    ['Nexus upper-case BASIC', 'BASIC realm="Sonatype Nexus Repository Manager"', [{ scheme: 'basic', params: { realm: 'Sonatype Nexus Repository Manager' } }]],
    ['Artifactory realm that is not a URL', 'Basic realm="Artifactory Realm"', [{ scheme: 'basic', params: { realm: 'Artifactory Realm' } }]],
    [
      'GAR without service',
      'Bearer realm="https://europe-docker.pkg.dev/v2/token"',
      [{ scheme: 'bearer', params: { realm: 'https://europe-docker.pkg.dev/v2/token' } }],
    ],
    [
      'several challenges in one header',
      'Bearer realm="https://r.example/token",service="r.example", Basic realm="r.example"',
      [
        { scheme: 'bearer', params: { realm: 'https://r.example/token', service: 'r.example' } },
        { scheme: 'basic', params: { realm: 'r.example' } },
      ],
    ],
    [
      'escapes and a comma inside quotes',
      'Basic realm="a \\"quoted\\", realm\\\\x", charset="UTF-8"',
      [{ scheme: 'basic', params: { realm: 'a "quoted", realm\\x', charset: 'UTF-8' } }],
    ],
    [
      'insufficient_scope with several scopes',
      'Bearer realm="https://auth.example/token",service="svc",scope="repository:a/b:pull repository:c/d:pull",error="insufficient_scope"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'svc', scope: 'repository:a/b:pull repository:c/d:pull', error: 'insufficient_scope' } }],
    ],
    [
      'token params, spaces around =, mixed-case names',
      'Bearer Realm = https://t.example/token , Service=svc',
      [{ scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'svc' } }],
    ],
    ['token68', 'Negotiate YIIB9wYJKoZIhvcSAQICAQBu==, Basic realm="x"', [{ scheme: 'negotiate', params: {}, token68: 'YIIB9wYJKoZIhvcSAQICAQBu==' }, { scheme: 'basic', params: { realm: 'x' } }]],
    ['bare scheme', 'Basic', [{ scheme: 'basic', params: {} }]],
    ['empty list elements', ' , Basic realm="x" ,, ', [{ scheme: 'basic', params: { realm: 'x' } }]],
    ['unterminated quote', 'Bearer realm="https://t.example/token', [{ scheme: 'bearer', params: { realm: 'https://t.example/token' } }]],
    ['empty header', '', []],
  ];

  it.each(table)('%s', (_name, header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });

  it('joins several header lines', () => {
    expect(parseWwwAuthenticate(['Bearer realm="https://a/token"', 'Basic realm="b"']).map((c) => c.scheme)).toEqual(['bearer', 'basic']);
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
  });

  it('does not let a parameter named __proto__ touch the prototype', () => {
    const [c] = parseWwwAuthenticate('Bearer __proto__="x", realm="https://r/token"');
    expect(c?.params.realm).toBe('https://r/token');
    expect(Object.getPrototypeOf(c?.params)).toBe(Object.prototype);
  });

  it('never throws on random input and returns well-formed challenges', () => {
    const alphabet = fc.constantFrom(...'Bearer Basic realm="\\,= \t_-./:abc'.split(''), '"', '\\', ',', '=', ' ');
    const inputs = fc.oneof(fc.string(), fc.string({ unit: alphabet, maxLength: 80 }), fc.string({ unit: 'binary' }));
    fc.assert(
      fc.property(inputs, (s) => {
        const out = parseWwwAuthenticate(s);
        expect(Array.isArray(out)).toBe(true);
        for (const c of out) {
          expect(c.scheme).toMatch(/^[!#$%&'*+.^_`|~0-9a-z-]+$/);
          for (const v of Object.values(c.params)) expect(typeof v).toBe('string');
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('chooseChallenge', () => {
  it('prefers Bearer with a realm over Basic', () => {
    const c = chooseChallenge(parseWwwAuthenticate('Basic realm="x", Bearer realm="https://t/token"'));
    expect(c?.scheme).toBe('bearer');
  });
  it('falls back to Basic when Bearer has no realm', () => {
    expect(chooseChallenge(parseWwwAuthenticate('Bearer service="x", Basic realm="y"'))?.scheme).toBe('basic');
  });
  it('gives undefined for schemes herald does not speak', () => {
    expect(chooseChallenge(parseWwwAuthenticate('Negotiate, NTLM'))).toBeUndefined();
  });
});

describe('scopes', () => {
  it('builds the pull scope and reads a challenge scope list', () => {
    expect(pullScope('team/app')).toBe('repository:team/app:pull');
    const [c] = parseWwwAuthenticate('Bearer realm="r",scope="repository:a:pull repository:b:pull,push"');
    expect(c && challengeScopes(c)).toEqual(['repository:a:pull', 'repository:b:pull,push']);
  });
});
