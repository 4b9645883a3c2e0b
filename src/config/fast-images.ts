/**
 * A shortcut inside the fast path (fast-yaml.ts) for the part of a config that grows with it: a
 * top-level `images:` list whose items are all flat `key: value` lines of plain words, such as
 *
 *   images:
 *     - name: ghcr.io/acme/api:1.2.3
 *       watchRepo: true
 *
 * js-yaml spends ~50 µs per such item (a node, a state snapshot and several readers tried per
 * scalar); read here line by line it is a few. The rest of the document still goes to js-yaml, with
 * the list's lines blanked (so every line number stays) and `images:` left empty, and the items are
 * put in its place. Only lines whose reading is certain are taken: the item's `- ` and its keys at
 * one indentation, keys of letters and digits, values of URL-ish characters without spaces, `#` or a
 * trailing `:`, each value resolved by the same core-schema types js-yaml resolves it with. Anything
 * else (a comment, a blank line, a nested value, a duplicate key, quotes) leaves the whole document
 * to js-yaml, as before.
 */

/** The list, and the text js-yaml reads instead of the document. */
export interface ImagesBlock {
  /** The document with the list's lines empty: `images:` there has no value (null). */
  rest: string;
  items: Array<Record<string, unknown>>;
  /** The (0-based) line of each item's `-`, as js-yaml's listener records it. */
  lines: number[];
}

const HEAD = /^images:$/m;
const FIRST = /^( *)- ([A-Za-z][A-Za-z0-9_]*): ([A-Za-z0-9][A-Za-z0-9._/:@+-]*)$/;
const NEXT = /^( *)([A-Za-z][A-Za-z0-9_]*): ([A-Za-z0-9][A-Za-z0-9._/:@+-]*)$/;

/** `scalar` resolves a plain scalar as js-yaml does with the fast path's schema. */
export function imagesBlock(text: string, scalar: (plain: string) => unknown): ImagesBlock | undefined {
  const head = HEAD.exec(text);
  if (head === null) return undefined;
  const start = head.index + head[0].length + 1;
  if (start > text.length) return undefined;
  // The list runs to the first line that begins with neither a space nor `-`.
  const lines = text.slice(start).split('\n');
  let count = 0;
  while (count < lines.length) {
    const c = lines[count]!.charCodeAt(0);
    if (c !== 0x20 && c !== 0x2d) break;
    count++;
  }
  // An empty line ends it only at the end of the text: an indented line may follow a blank one.
  if (count === 0 || (count < lines.length && lines[count] === '' && count !== lines.length - 1)) return undefined;

  const firstLine = countLines(text, start);
  const items: Array<Record<string, unknown>> = [];
  const itemLines: number[] = [];
  let indent = -1;
  let item: Record<string, unknown> | undefined;
  for (let i = 0; i < count; i++) {
    const line = lines[i]!;
    const first = FIRST.exec(line);
    let key: string;
    let value: string;
    if (first !== null) {
      if (indent === -1) indent = first[1]!.length;
      else if (first[1]!.length !== indent) return undefined;
      item = {};
      items.push(item);
      itemLines.push(firstLine + i);
      key = first[2]!;
      value = first[3]!;
    } else {
      const next = NEXT.exec(line);
      if (next === null || item === undefined || next[1]!.length !== indent + 2) return undefined;
      key = next[2]!;
      value = next[3]!;
    }
    // A key that is not a string to js-yaml (`true:`, `null:`), a duplicate (an error there), or a
    // value that ends in `:` (a mapping indicator): js-yaml decides.
    if (scalar(key) !== key || Object.hasOwn(item, key) || value.charCodeAt(value.length - 1) === 0x3a) return undefined;
    item[key] = scalar(value);
  }

  const blank = lines.slice(0, count).fill('');
  const rest = text.slice(0, start) + blank.join('\n') + (count < lines.length ? `\n${lines.slice(count).join('\n')}` : '');
  return { rest, items, lines: itemLines };
}

function countLines(text: string, end: number): number {
  let n = 0;
  for (let at = text.indexOf('\n'); at !== -1 && at < end; at = text.indexOf('\n', at + 1)) n++;
  return n;
}
