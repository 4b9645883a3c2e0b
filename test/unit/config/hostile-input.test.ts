/**
 * Hostile input: whatever a config file, an image name on the command line, a registry's
 * WWW-Authenticate header or a registry's tag list holds, herald answers with a result or a typed
 * user error (one line, for the user), never with another exception, a hang, or a polluted
 * prototype. Complements the property tests next to each parser (config-property, registry-challenge,
 * versions) with what those do not try: any Unicode, mutations of valid input, sizes and shapes
 * meant to exhaust (deep nesting, alias bombs, regex backtracking), and prototype keys.
 *
 * HERALD_LONG_TESTS=1 tries 20 times as many inputs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveImages } from '../../../src/config/images.js';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError, UserError } from '../../../src/util/errors.js';
import { challengeScopes, chooseChallenge, parseWwwAuthenticate } from '../../../src/registry/challenge.js';
import { parseReference, InvalidReferenceError } from '../../../src/model/reference.js';
import { compareVersionTags, parseTag, parseVersion, sortSemverDescending, VersionError } from '../../../src/tags/versions.js';

const SCALE = process.env.HERALD_LONG_TESTS === '1' ? 20 : 1;
const runs = (n: number): { numRuns: number; seed: number } => ({ numRuns: n * SCALE, seed: 20261127 });

/**
 * What "took too long" means per input: far above a normal parse (microseconds), far below what
 * catastrophic backtracking costs (seconds), with room for a GC pause on a loaded machine.
 */
const SLOW_MS = 500;

/** Runs fn and fails if it takes longer than ms: a parser must not be made to backtrack or recurse for long. */
function timed<T>(ms: number, what: string, fn: () => T): T {
  const t0 = performance.now();
  const out = fn();
  const took = performance.now() - t0;
  expect(took, `${what} took ${Math.round(took)} ms`).toBeLessThan(ms);
  return out;
}

function expectPrototypeClean(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
}

// ---------------------------------------------------------------------------------------------

describe('parseReference on hostile input', () => {
  const valid = fc.constantFrom(
    'nginx', 'nginx:1.27', 'library/nginx:latest', 'ghcr.io/acme/api:1.4.2', 'localhost:5000/team/app', '127.0.0.1:5000/a/b:c',
    'registry.example.com:443/deep/path/name:v1-rc.2', `alpine@sha256:${'a'.repeat(64)}`, `quay.io/x/y:1@sha256:${'0'.repeat(64)}`,
    '[::1]:5000/app:1', 'index.docker.io/library/redis', 'docker.io/bitnami/redis:7.2',
  );
  const refChars = fc.constantFrom(...'abcAZ09._-/:@+[]%#?! \t\u0000\u00e9\u202e'.split(''), '__', '--', 'sha256:', 'localhost', '..', '//');
  const mutate = fc.tuple(valid, fc.nat(80), fc.nat(5), fc.string({ unit: refChars, maxLength: 6 })).map(([s, at, del, ins]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + ins + s.slice(i + del);
  });
  const anything = fc.oneof(
    fc.string({ maxLength: 600 }),
    fc.string({ unit: 'grapheme', maxLength: 100 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.string({ unit: refChars, maxLength: 120 }),
    mutate,
    valid,
  );

  it('returns a normalized reference or throws a InvalidReferenceError (exit 2, one line), nothing else', () => {
    fc.assert(
      fc.property(anything, (input) => {
        let ref;
        const t0 = performance.now();
        try {
          ref = parseReference(input);
        } catch (err) {
          expect(performance.now() - t0).toBeLessThan(SLOW_MS);
          expect(err).toBeInstanceOf(InvalidReferenceError);
          const e = err as InvalidReferenceError;
          expect(e.exitCode).toBe(2);
          expect(e.message.startsWith('invalid image reference')).toBe(true);
          // The input is quoted in the message; a newline in it would be a second line.
          if (!/[\n\r]/.test(input)) expect(e.message).not.toMatch(/[\n\r]/);
          return;
        }
        expect(performance.now() - t0).toBeLessThan(SLOW_MS);
        // What comes out is canonical: parsing the name again gives the same reference.
        expect(parseReference(ref.name)).toEqual(ref);
        expect(ref.name).toBe(`${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`);
        expect(ref.repository).toMatch(/^[a-z0-9]/);
        expect(ref.tag !== undefined || ref.digest !== undefined).toBe(true);
      }),
      runs(3000),
    );
  });

  it('does not backtrack on names built to make regexes slow', () => {
    const long = (unit: string, n: number, end: string) => unit.repeat(n) + end;
    for (const input of [
      long('a-', 250, '!'), long('a.', 250, '!'), long('a_', 250, '_'), long('a', 500, '-'), `${long('a', 250, '')}.${long('a-', 120, '')}:1/x`,
      `${long('a', 60, '.')}${long('a', 60, '.')}${long('b-', 100, '')}:99999/x`, `x/${long('a__', 160, '!')}`, `x:${long('a', 127, '')}!`,
      `x@sha256:${long('a', 500, '!')}`, long('a/', 255, 'A'), long('a:', 255, '/'),
    ]) {
      const t0 = performance.now();
      let error: unknown;
      try {
        parseReference(input);
      } catch (err) {
        error = err;
      }
      expect(performance.now() - t0, `parseReference(${input.slice(0, 30)}…)`).toBeLessThan(SLOW_MS);
      if (error !== undefined) expect(error).toBeInstanceOf(InvalidReferenceError);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('WWW-Authenticate on hostile input', () => {
  const piece = fc.constantFrom(
    'Bearer ', 'Basic ', 'BASIC', 'Digest ', 'realm=', 'service=', 'scope=', 'error=', '"', '\\"', '\\', ',', ', ', '=', '==', ' ', '\t',
    'https://auth.example.com/token', 'http://x', 'repository:a/b:pull', '__proto__=', 'constructor=', 'prototype=', 'hasOwnProperty=',
    '\u0000', '\u00ff', '\u{1f600}', 'Negotiate abc==', 'dXNlcjpwYXNz',
  );
  const header = fc.oneof(
    fc.array(piece, { maxLength: 60 }).map((p) => p.join('')),
    fc.string({ unit: 'grapheme', maxLength: 200 }),
    fc.array(fc.array(piece, { maxLength: 20 }).map((p) => p.join('')), { maxLength: 4 }),
  );

  it('parses into well-formed challenges, and choosing one and reading its scopes never throws', () => {
    fc.assert(
      fc.property(header, (h) => {
        const challenges = parseWwwAuthenticate(h);
        for (const c of challenges) {
          expect(typeof c.scheme).toBe('string');
          expect(c.scheme.length).toBeGreaterThan(0);
          for (const [k, v] of Object.entries(c.params)) {
            expect(typeof k).toBe('string');
            expect(typeof v).toBe('string');
          }
        }
        const chosen = chooseChallenge(challenges);
        if (chosen !== undefined) {
          expect(['bearer', 'basic']).toContain(chosen.scheme);
          for (const s of challengeScopes(chosen)) expect(s).not.toMatch(/ /);
        }
        expectPrototypeClean();
      }),
      runs(3000),
    );
  });

  it('takes linear time on long headers (no quadratic rescans, no regex backtracking)', () => {
    const size = 256 * 1024;
    for (const h of [
      'Bearer ' + 'a='.repeat(size / 2),
      'Bearer realm="' + '\\"'.repeat(size / 2),
      'Bearer realm="x"' + ', '.repeat(size / 2),
      'x'.repeat(size),
      ','.repeat(size),
      'Basic ' + 'A'.repeat(size) + '==' + '='.repeat(1000) + '!',
      'Bearer ' + 'realm=x '.repeat(size / 8),
      ('Bearer realm="https://a/token",service="s",scope="repository:a:pull"' + ', ').repeat(size / 70),
    ]) {
      const out = timed(1_000, `parseWwwAuthenticate(${h.slice(0, 20)}… ${h.length} chars)`, () => parseWwwAuthenticate(h));
      expect(Array.isArray(out)).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe('the tag comparator on hostile tag lists', () => {
  // Its own properties (total order, agreement with semver) are in versions.test.ts; here: what a
  // registry could list, including what no registry should (over-long, non-ASCII, huge numbers).
  const tag = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: fc.constantFrom('1', '0', '9', '.', '-', '_', 'v', 'rc', 'alpha', 'ls', 'r', 'a', 'b'), maxLength: 60 }),
    fc.bigInt({ min: 0n, max: 10n ** 40n }).map((n) => `${n}.${n}.0-rc.${n}`),
    fc.constantFrom('latest', `sha256-${'a'.repeat(64)}.sig`, '1.2.3.4.5', '1..2', '.1', '-1', 'v', 'V1', '__proto__', 'constructor'),
  );

  it('parses, compares and sorts any list: only VersionError, a permutation out, same order for any listing order', () => {
    fc.assert(
      fc.property(fc.array(tag, { maxLength: 30 }), (tags) => {
        for (const t of tags) {
          const v = parseTag(t);
          if (v !== null) expect(compareVersionTags(v, v)).toBe(0);
          try {
            parseVersion(t);
          } catch (err) {
            expect(err).toBeInstanceOf(VersionError);
            expect(err).toBeInstanceOf(UserError);
          }
        }
        const sorted = timed(SLOW_MS, 'sortSemverDescending', () => sortSemverDescending(tags));
        expect([...sorted].sort()).toEqual([...tags].sort());
        const versions = tags.filter((t) => parseTag(t) !== null);
        const reordered = sortSemverDescending([...versions].reverse());
        expect(reordered).toEqual(sortSemverDescending(versions));
      }),
      runs(1000),
    );
  });
});

// ---------------------------------------------------------------------------------------------

describe('config files built to exhaust the loader', () => {
  let dir: string;
  let n = 0;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'herald-hostile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function load(text: string | Buffer): Promise<'ok' | ConfigError> {
    const file = path.join(dir, `c${n++}.yml`);
    writeFileSync(file, text);
    try {
      await resolveImages(await loadConfig(file, {}));
      return 'ok';
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      expect(err.message).not.toMatch(/\n/);
      expect(err.message.length).toBeLessThan(2_000);
      return err;
    }
  }

  const laughs = (): string => {
    let text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    let prev = 'a';
    for (const name of 'bcdefghi') {
      text += `${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
      prev = name;
    }
    return `${text}images: *i\n`;
  };
  const cases: Array<[string, () => string | Buffer]> = [
    ['an alias bomb (billion laughs)', laughs],
    ['20 000 nested flow sequences', () => `images: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`],
    ['3 000 nested block sequences', () => `images:\n${Array.from({ length: 3_000 }, (_, i) => `${'  '.repeat(i + 1)}- `).join('\n')}\n`],
    ['3 000 nested maps', () => `defaults:\n  metadata:\n${Array.from({ length: 3_000 }, (_, i) => `${'  '.repeat(i + 2)}k${i}:`).join('\n')}\n`],
    ['merge keys that merge themselves', () => 'x: &x {<<: *x}\nimages: []\n'],
    ['a 2 MB scalar', () => `watch: { schedule: "${'x'.repeat(2_000_000)}" }\n`],
    ['NUL and invalid UTF-8 bytes', () => Buffer.from([0x77, 0x61, 0x74, 0x63, 0x68, 0x3a, 0x00, 0x01, 0xff, 0xfe, 0x20, 0x31, 0x0a])],
    ['a UTF-16 byte order mark', () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('images: []\n', 'utf16le')])],
    ['language tags (!!js/function, !!binary, custom)', () => 'watch: !!js/function "function(){return 1}"\nimages: !custom []\ndefaults: { platform: !!binary aGk= }\n'],
    ['prototype keys at every level', () => '__proto__: { polluted: true }\nconstructor: { prototype: { polluted: true } }\nimages:\n  - name: nginx\n    metadata: { __proto__: { polluted: 1 }, constructor: 1 }\nnotifiers:\n  - { name: __proto__, type: webhook, url: "http://x", headers: { __proto__: x } }\n'],
    ['CRLF, tabs and a document end marker', () => 'watch:\r\n\tschedule: "* * * * *"\r\n...\r\nimages: []\r\n'],
  ];

  it.each(cases)('%s: a config or one ConfigError line, quickly, prototype untouched', async (_what, make) => {
    const t0 = performance.now();
    await load(make());
    expect(performance.now() - t0).toBeLessThan(5_000);
    expectPrototypeClean();
  });

  it('random byte strings: a config or one ConfigError line', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        await load(Buffer.from(bytes));
        expectPrototypeClean();
      }),
      runs(150),
    );
  });
});
