/**
 * The fast path of parseYaml (source.ts): js-yaml, several times quicker than yaml on a cold start
 * (a 300-image config: ~20 ms instead of ~150 ms), used only where its data is certainly what the
 * full path (yaml, with positions) would give. Anything unusual, and any error, declines it: the
 * caller then runs the full path, which also words every error. Positions (`locate`, `line`) come
 * from the full path, built on first use, except the line of each top-level list item
 * (`images[i]`, an include file's `[i]`), which load.ts asks for every image and which is recorded
 * while parsing.
 */
import { FAILSAFE_SCHEMA, load, Type, type LoadOptions } from 'js-yaml';
import { displayPath, type KeyPath } from './problems.js';
import type { YamlSource } from './source.js';
import { imagesBlock, type ImagesBlock } from './fast-images.js';

// yaml's YAML 1.2 core schema (node_modules/yaml/dist/schema/core/*.js, common/null.js), test by
// test, in its order, each resolved the way yaml resolves it. js-yaml's own CORE_SCHEMA differs
// (it takes `1_000`, `0o` is its only octal but also `+0x1F`, and more), so it is not used.
const NULL = /^(?:~|[Nn]ull|NULL)?$/;
const BOOL = /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/;
const INT_OCT = /^0o[0-7]+$/;
const INT = /^[-+]?[0-9]+$/;
const INT_HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT_NAN = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const FLOAT_EXP = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/;

const isText = (data: unknown): data is string => typeof data === 'string';

/**
 * The first character each test can match: js-yaml tries every type on every plain scalar (keys
 * too), and most start with a letter no test takes, so they skip the regexes. Each set is the
 * first characters its regexes allow (none for the empty string, which only NULL matches).
 */
const nullStart = (d: string): boolean => {
  const c = d.charCodeAt(0);
  return d.length === 0 || c === 0x7e || c === 0x6e || c === 0x4e; // ~ n N
};
const boolStart = (d: string): boolean => {
  const c = d.charCodeAt(0);
  return c === 0x74 || c === 0x54 || c === 0x66 || c === 0x46; // t T f F
};
const numberStart = (d: string): boolean => {
  const c = d.charCodeAt(0);
  return (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e; // 0-9 + - .
};

/** js-yaml keeps one type per tag, so yaml's three int tests are one type here, its three float tests another. */
const CORE_TYPES = [
  new Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (d: unknown) => isText(d) && nullStart(d) && NULL.test(d), construct: () => null }),
  new Type('tag:yaml.org,2002:bool', {
    kind: 'scalar',
    resolve: (d: unknown) => isText(d) && boolStart(d) && BOOL.test(d),
    construct: (d: string) => d[0] === 't' || d[0] === 'T',
  }),
  new Type('tag:yaml.org,2002:int', {
    kind: 'scalar',
    resolve: (d: unknown) => isText(d) && numberStart(d) && (INT_OCT.test(d) || INT.test(d) || INT_HEX.test(d)),
    construct: (d: string) => (INT_OCT.test(d) ? parseInt(d.substring(2), 8) : INT.test(d) ? parseInt(d, 10) : parseInt(d.substring(2), 16)),
  }),
  new Type('tag:yaml.org,2002:float', {
    kind: 'scalar',
    resolve: (d: unknown) => isText(d) && numberStart(d) && (FLOAT_NAN.test(d) || FLOAT_EXP.test(d) || FLOAT.test(d)),
    construct: (d: string) =>
      FLOAT_NAN.test(d) ? (d.slice(-3).toLowerCase() === 'nan' ? NaN : d[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY) : parseFloat(d),
  }),
];
const SCHEMA = FAILSAFE_SCHEMA.extend({ implicit: CORE_TYPES });

/** A plain scalar as js-yaml resolves it with SCHEMA: the first core type that takes it, else the string. */
function plainScalar(plain: string): unknown {
  // A letter other than n, t or f (either case) starts no core type's match (see nullStart and the others).
  const c = plain.charCodeAt(0) | 0x20;
  if (c >= 0x61 && c <= 0x7a && c !== 0x6e && c !== 0x74 && c !== 0x66) return plain;
  for (let i = 0; i < CORE_TYPES.length; i++) {
    const type = CORE_TYPES[i]!;
    if (type.resolve(plain)) return type.construct(plain);
  }
  return plain;
}

const NOT_TAKEN = Symbol('not taken');

const isRecord = (data: unknown): data is Record<string, unknown> => data !== null && typeof data === 'object' && !Array.isArray(data);

/**
 * js-yaml's own limit, half the full path's: it counts every node (a scalar too) where yaml's check
 * counts collections, so whatever it takes is well inside what the full path takes.
 */
const FAST_MAX_DEPTH = 32;

/**
 * Text the fast path leaves to the full path, each a superset of what it stands for (a false hit
 * only costs the slower parse):
 * - a directive line (`%YAML 1.1` changes yaml's schema);
 * - a tag (`!…`) or an anchor (`&…`) where a node can start: after a line start, white space or a
 *   flow indicator (an alias needs an anchor, and so does a merge of one);
 * - an explicit key (`? `) and a collection as an implicit key (`[a]: x`, `{a: 1}: x`): yaml and
 *   js-yaml turn a collection key into different strings;
 * - a lone carriage return: js-yaml counts it as a line break, yaml's line numbers do not;
 * - a comment right after a quote or a bracket, anything but a comment after `---` or `...`, and
 *   a tab in a line's indentation: yaml rejects them (or reads `---#` as a plain scalar);
 * - a block scalar's indentation indicator (`|2`) or keep indicator (`|+`): js-yaml applies them
 *   differently at times (`- |+` and a last line of spaces: "\n" where yaml gives "").
 */
const DECLINE = /^%|^(?:---|\.\.\.)(?!(?:[ \t]+(?:#.*)?)?\r?$)|^ *\t|(?:^|[\s[\]{},:\uFEFF])(?:!|&[^\s&])|(?:^|[\s[{,\uFEFF])\?(?:\s|$)|[\]}][ \t]*:|\r(?!\n)|(?:^|\s)[|>](?:[-+]?[0-9]|\+)|["'\]}]#/m;

/** A line that is only sequence indicators, its last item empty (`-`, `- -`, `  - # note`). */
const EMPTY_ITEM = /^([ \t]*(?:-[ \t]+)*)-[ \t]*(?:#.*)?\r?$/;
/** A line that ends with a key and no value (`key:`, `key: # note`). */
const EMPTY_KEY = /:(?:[ \t]+#.*)?[ \t]*\r?$/;
const ITEM_OR_KEY = /^-(?:\s|$)|:(?:\s|$)/;

/**
 * Layouts js-yaml reads otherwise than yaml, found line by line:
 * - an empty sequence item followed by a line indented less than its `-`: js-yaml reads the next
 *   items into that sequence (`- - \n- x` gives [[null, 'x']] where yaml gives [[null], 'x'], or
 *   an error when the outer sequence is indented);
 * - a key or an item with no value on its line, then a comment line, then a scalar: yaml may end
 *   the value at the comment (an error, or the scalar joins another), js-yaml reads the scalar as
 *   the value.
 */
function awkwardLayout(text: string): boolean {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const item = startsWithDash(line) ? EMPTY_ITEM.exec(line) : null;
    const key = item === null && mayEndKey(line) && EMPTY_KEY.test(line) && !line.trimStart().startsWith('#');
    if (item === null && !key) continue;
    // The next line with content; js-yaml skips blank and comment lines the same way.
    let comment = false;
    let next = i + 1;
    for (; next < lines.length; next++) {
      const content = lines[next]!.trim();
      if (content === '') continue;
      if (!content.startsWith('#')) break;
      comment = true;
    }
    if (next === lines.length) continue;
    const content = lines[next]!.trimStart();
    if (item !== null && lines[next]!.length - content.length < item[1]!.length) return true;
    if (comment && !ITEM_OR_KEY.test(content)) return true;
  }
  return false;
}

/** Whether the line's first character after blanks is `-`: EMPTY_ITEM cannot match otherwise. */
function startsWithDash(line: string): boolean {
  let at = 0;
  while (line.charCodeAt(at) === 0x20 || line.charCodeAt(at) === 0x09) at++;
  return line.charCodeAt(at) === 0x2d;
}

/** Whether EMPTY_KEY may match: a comment, or `:` as the last character before trailing blanks. */
function mayEndKey(line: string): boolean {
  if (line.includes('#')) return true;
  let at = line.length - 1;
  for (let c = line.charCodeAt(at); c === 0x20 || c === 0x09 || c === 0x0d; c = line.charCodeAt(--at));
  return line.charCodeAt(at) === 0x3a;
}

const QUOTE = 0x22;
const APOSTROPHE = 0x27;
/** The closing ones: `]`, `}`. */
const BRACKET = 0x5d;
const BRACE = 0x7d;

/** Where the node js-yaml began reading at `from` starts: white space and comments may come first. */
function nodeStart(text: string, from: number): number {
  let at = from;
  for (;;) {
    const ch = text.charCodeAt(at);
    if (ch === 0x20 || ch === 0x09 || ch === 0x0a || ch === 0x0d) at++;
    else if (ch === 0x23) {
      const eol = text.indexOf('\n', at);
      at = eol === -1 ? text.length : eol;
    } else return at;
  }
}

/**
 * Whether a node that ends at `end` with a quote or a bracket, begun at `from` and inside the node
 * begun at `parentFrom`, is one the fast path must leave to the full path:
 * - a quoted scalar or a flow collection over several lines: yaml wants its lines indented more
 *   than the block collection around it, js-yaml does not check;
 * - a flow collection as a key of a flow mapping (`{[a]: 1}`, `{{a: 1}}`): yaml and js-yaml turn
 *   it into different strings.
 */
function awkward(text: string, from: number, end: number, parentFrom: number | undefined): boolean {
  const start = nodeStart(text, from);
  const first = text.charCodeAt(start);
  const collection = first === 0x5b || first === 0x7b;
  if (first !== QUOTE && first !== APOSTROPHE && !collection) return false;
  const newline = text.indexOf('\n', start);
  if (newline !== -1 && newline < end) return true;
  if (!collection || parentFrom === undefined) return false;
  // The node around it, unless that is this same node read as a candidate key first (js-yaml does that).
  const parentStart = nodeStart(text, parentFrom);
  if (parentStart >= start || text.charCodeAt(parentStart) !== 0x7b) return false;
  let before = start - 1;
  while (before >= 0 && /\s/.test(text[before]!)) before--;
  return text[before] !== ':';
}

/** A mapping whose values are all scalars (every image entry, most sections): its keys, no Map. */
class LeafKeys {
  constructor(readonly keys: readonly string[]) {}
}

type Shape = Map<string, Shape> | LeafKeys | Shape[] | null;

interface ListenerState {
  line: number;
  position: number;
  result: unknown;
  anchor: string | null;
}

/** The fast source, or undefined where the full path must be used. `full` builds the full path's source. */
export function fastYaml(file: string, text: string, full: () => YamlSource): YamlSource | undefined {
  if (DECLINE.test(text) || awkwardLayout(text)) return undefined;
  const opens: number[] = [];
  const lines = new Map<object, number>();
  let declined = false;
  const listener = (event: 'open' | 'close', state: ListenerState): void => {
    if (event === 'open') {
      opens.push(state.line, state.position);
      return;
    }
    const openPosition = opens.pop()!;
    const line = opens.pop()!;
    if (state.anchor !== null && state.anchor !== undefined) declined = true;
    const result = state.result;
    if (result !== null && typeof result === 'object') lines.set(result, line);
    const end = text.charCodeAt(state.position - 1);
    if ((end === QUOTE || end === APOSTROPHE || end === BRACKET || end === BRACE) && awkward(text, openPosition, state.position, opens[opens.length - 1])) {
      declined = true;
    }
  };
  /** The document read by the images shortcut (fast-images.ts), or NOT_TAKEN. */
  function withImages(images: ImagesBlock | undefined, options: LoadOptions): unknown {
    if (images === undefined) return NOT_TAKEN;
    let rest: unknown;
    try {
      rest = load(images.rest, options);
    } catch {
      return NOT_TAKEN;
    }
    if (declined || !isRecord(rest) || rest.images !== null) return NOT_TAKEN;
    rest.images = images.items;
    images.items.forEach((item, i) => lines.set(item, images.lines[i]!));
    return rest;
  }
  const options = { schema: SCHEMA, json: false, maxDepth: FAST_MAX_DEPTH, listener } as unknown as LoadOptions;
  let data = withImages(imagesBlock(text, plainScalar), options);
  if (data === NOT_TAKEN) {
    // No list for the shortcut, or the text around it read otherwise (an error, a decline, an
    // `images` with a value of its own): the whole text, as if there were no shortcut.
    opens.length = 0;
    lines.clear();
    declined = false;
    try {
      data = load(text, options);
    } catch {
      return undefined;
    }
  }
  if (declined) return undefined;
  if (data === undefined) data = null;

  // A config is a mapping and an include file a list: a scalar document is an error in any case,
  // and a document-level scalar is where js-yaml and yaml read indentation differently.
  if (data !== null && typeof data !== 'object') return undefined;

  const shape = shapeOf(data);
  if (shape === undefined) return undefined;

  // The line of each top-level list item: an include file's `[i]`, the config's `images[i]`.
  const itemLines = (items: unknown): Array<number | undefined> | undefined =>
    Array.isArray(items) ? items.map((item: unknown) => (item !== null && typeof item === 'object' ? lines.get(item) : undefined)) : undefined;
  const topItems = itemLines(data);
  const imageItems = data !== null && typeof data === 'object' && !Array.isArray(data) ? itemLines((data as Record<string, unknown>).images) : undefined;

  const shown = displayPath(file);
  let fullSource: YamlSource | undefined;
  const slow = (): YamlSource => (fullSource ??= full());
  return {
    file,
    data,
    errors: [],
    fast: true,
    locate: (keyPath, atKey) => slow().locate(keyPath, atKey),
    line(keyPath) {
      const last = keyPath[keyPath.length - 1];
      const items = keyPath.length === 1 ? topItems : keyPath.length === 2 && keyPath[0] === 'images' ? imageItems : undefined;
      const line = typeof last === 'number' ? items?.[last] : undefined;
      return line !== undefined ? `${shown}:${line + 1}` : slow().line(keyPath);
    },
    has: (keyPath) => hasPath(shape, keyPath),
  };
}

/**
 * The keys of the data, kept apart from it (load.ts deletes null values and applies environment
 * overrides to the data in place), so `has` answers for the file. Undefined for a key the full path
 * would read differently: `<<` (a merge there) and `null` (js-yaml's string for a null key, which
 * yaml turns into "").
 */
function shapeOf(value: unknown): Shape | undefined {
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    const items: Shape[] = [];
    for (const item of value) {
      const shape = shapeOf(item);
      if (shape === undefined) return undefined;
      items.push(shape);
    }
    return items;
  }
  const names = Object.keys(value);
  let leaves = true;
  for (const key of names) {
    if (key === '<<' || key === 'null') return undefined;
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object') leaves = false;
  }
  if (leaves) return new LeafKeys(names);
  const keys = new Map<string, Shape>();
  for (const key of names) {
    const shape = shapeOf((value as Record<string, unknown>)[key]);
    if (shape === undefined) return undefined;
    keys.set(key, shape);
  }
  return keys;
}

/** As the full path's `has`: a number steps into a list, anything else names a key. */
function hasPath(shape: Shape, keyPath: KeyPath): boolean {
  let node = shape;
  for (const segment of keyPath) {
    if (Array.isArray(node)) {
      if (typeof segment !== 'number' || !Number.isInteger(segment) || segment < 0 || segment >= node.length) return false;
      node = node[segment]!;
    } else if (node instanceof Map) {
      const next = node.get(String(segment));
      if (next === undefined) return false;
      node = next;
    } else if (node instanceof LeafKeys) {
      if (!node.keys.includes(String(segment))) return false;
      node = null;
    } else {
      return false;
    }
  }
  return true;
}
