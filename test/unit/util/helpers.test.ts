/** The small helpers every folder shares: one copy each, so messages read the same everywhere. */
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../../src/util/duration.js';
import { fsReason } from '../../../src/util/fs.js';
import { parseRetryAfter } from '../../../src/util/http.js';
import { counted, isPlainObject, oneLine } from '../../../src/util/text.js';
import { isDigest, isVerifiableDigest, shortDigest } from '../../../src/model/digest.js';

const HEX = 'a'.repeat(64);

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });
  it('gives up on anything else, including numbers that are not whole seconds and dates without a weekday', () => {
    for (const text of ['soon', '-3', '1.5', '', '2026-01-01']) expect(parseRetryAfter(text, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it('is short and exact where it can be', () => {
    expect(formatDuration(300)).toBe('300ms');
    expect(formatDuration(15_000)).toBe('15s');
    expect(formatDuration(1_500)).toBe('1.5s');
    expect(formatDuration(120_000)).toBe('2m');
    expect(formatDuration(150_000)).toBe('2m30s');
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(5_400_000)).toBe('1.5h');
  });
  it('prints what parseDuration reads back', () => {
    for (const ms of [250, 1000, 15_000, 90_000, 150_000, 3_600_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});

describe('oneLine', () => {
  it('folds white space and trims', () => {
    expect(oneLine(' a\n  b\tc \r\n')).toBe('a b c');
  });
  it('cuts long text with an ellipsis, never inside a surrogate pair', () => {
    expect(oneLine('x'.repeat(300), 10)).toBe(`${'x'.repeat(9)}…`);
    const cut = oneLine(`${'x'.repeat(8)}😀😀`, 10);
    expect(cut).toBe(`${'x'.repeat(8)}…`);
    expect(oneLine('short', 10)).toBe('short');
  });
});

describe('counted', () => {
  it('says "1 image" and "2 images", with irregular plurals when given', () => {
    expect([0, 1, 2].map((n) => counted(n, 'image'))).toEqual(['0 images', '1 image', '2 images']);
    expect([1, 3].map((n) => counted(n, 'registry', 'registries'))).toEqual(['1 registry', '3 registries']);
  });
});

describe('isPlainObject', () => {
  it('is true for maps only', () => {
    expect(isPlainObject({ a: 1 })).toBe(true);
    for (const value of [null, [], 'x', 1, undefined]) expect(isPlainObject(value)).toBe(false);
  });
});

describe('fsReason', () => {
  it('names common OS errors in words', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(fsReason(err('ENOENT'))).toBe('file not found');
    expect(fsReason(err('EACCES'))).toBe('permission denied');
    expect(fsReason(err('EROFS'))).toBe('read-only file system');
    expect(fsReason(err('EWHATEVER'))).toBe('EWHATEVER');
  });
});

describe('digests', () => {
  it('tells the OCI grammar from what herald can verify', () => {
    expect(isDigest(`sha256:${HEX}`)).toBe(true);
    expect(isDigest(`multihash+base58:${'Q'.repeat(40)}`)).toBe(true);
    expect(isDigest('sha256:abc')).toBe(false);
    expect(isVerifiableDigest(`sha256:${HEX}`)).toBe(true);
    expect(isVerifiableDigest(`sha256:${HEX.toUpperCase()}`)).toBe(false);
    expect(isVerifiableDigest(`multihash+base58:${'Q'.repeat(40)}`)).toBe(false);
  });
  it('quotes 12 characters of the encoded part', () => {
    expect(shortDigest(`sha256:0123456789abcdef${HEX}`)).toBe('0123456789ab');
    expect(shortDigest(`sha256:0123456789abcdef${HEX}`, true)).toBe('sha256:0123456789ab');
    expect(shortDigest(null)).toBe('-');
  });
});
