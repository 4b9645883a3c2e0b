import { describe, expect, it } from 'vitest';
import { pack, packRendered, partTitle, truncate, utf8Bytes } from '../../../src/notify/limits.js';

describe('limits', () => {
  it('truncate keeps the "…" inside the limit, prefers a late line break, never splits a surrogate pair', () => {
    expect(truncate('short', 10)).toBe('short');
    expect(truncate('abcdefghij', 5)).toBe('abcd…');
    expect(truncate('line one\nline two and more', 20)).toBe('line one\nline two a…');
    expect(truncate('0123456789abcdef\nghijklmnop', 20)).toBe('0123456789abcdef\n…');
    expect(truncate('ab😀cd', 4)).toBe('ab…');
    expect(utf8Bytes(truncate('é'.repeat(100), 11, utf8Bytes))).toBeLessThanOrEqual(11);
    // Plain text: a "<" or "&" before the cut is text, not markup.
    expect(truncate(`a <b ${'x'.repeat(50)}`, 20)).toBe(`a <b ${'x'.repeat(14)}…`);
  });

  it('pack and packRendered make the same largest groups', () => {
    const sizes = [3, 4, 2, 9, 1, 1, 12, 5];
    const fits = (group: readonly number[]) => group.reduce((n, s) => n + s, 0) <= 10;
    expect(pack(sizes, fits)).toEqual([[3, 4, 2], [9, 1], [1], [12], [5]]);
    expect(packRendered(sizes, (g) => g.join('+'), (s) => fits(s.split('+').map(Number)))).toEqual(['3+4+2', '9+1', '1', '12', '5']);
  });

  it('partTitle numbers the parts of a split delivery and cuts the title to fit', () => {
    expect(partTitle('updates', 0, 1)).toBe('updates');
    expect(partTitle('updates', 1, 3)).toBe('updates (2/3)');
    expect(partTitle('x'.repeat(20), 0, 2, 12)).toBe('xxxxx… (1/2)');
  });
});
