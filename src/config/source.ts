/**
 * A YAML file read with positions, so any key path can be named as `file:line:col`.
 */
import { createRequire } from 'node:module';
import type { CST, Document, Node, Pair } from 'yaml';
import { displayPath, type KeyPath } from './problems.js';
import { oneLine } from '../util/text.js';
import { fastYaml } from './fast-yaml.js';

type YamlLibrary = typeof import('yaml');
let library: YamlLibrary | undefined;
const requireHere = createRequire(import.meta.url);

/**
 * yaml, the full path's parser, is not loaded at start-up: a config the fast path reads needs it only
 * for the position of a problem. Callers that may need it and can wait load it with loadFullYaml (in
 * the CLI bundle, one chunk: ~15 ms and ~0.9 MB of heap that a `check` no longer pays up front). A
 * synchronous need before that (a position asked for outside the loader) requires it from
 * node_modules: the same code, slower to load (its ~70 files), on an error path only.
 */
function yaml(): YamlLibrary {
  return (library ??= requireHere('yaml') as YamlLibrary);
}

/** Loads the full path's parser ahead of a use that cannot wait (see yaml()). */
export async function loadFullYaml(): Promise<void> {
  library ??= await import('yaml');
}

export interface YamlSource {
  /** Absolute path. */
  file: string;
  /** The data as plain JS (null for an empty file); undefined when the YAML could not be parsed. */
  data: unknown;
  /** One line per YAML syntax problem, already prefixed with `file:line:col: `. */
  errors: string[];
  /** `file:line:col` of the node at a key path, or of its nearest existing ancestor. */
  locate(path: KeyPath, atKey?: boolean): string;
  /** `file:line` of the node at a key path (or its nearest ancestor). */
  line(path: KeyPath): string;
  /** True when the key path exists in the file, even with an empty value. */
  has(path: KeyPath): boolean;
  /** Read by the fast path (fast-yaml.ts); false: by the full one. */
  fast: boolean;
}

/**
 * The file's data, by the fast path when it can be certain to give the full path's data, else (or
 * with `full`) by the full path. A caller that finds any problem in fast-path data reads the file
 * again with `full`, so every message names its place exactly as before.
 */
export function parseYaml(file: string, text: string, options: { full?: boolean } = {}): YamlSource {
  const full = (): YamlSource => parseYamlFull(file, text);
  return (options.full === true ? undefined : fastYaml(file, text, full)) ?? full();
}

/** parseYaml, with the full path's parser loaded first when the fast path declines. */
export async function readYaml(file: string, text: string, options: { full?: boolean } = {}): Promise<YamlSource> {
  const full = (): YamlSource => parseYamlFull(file, text);
  const fast = options.full === true ? undefined : fastYaml(file, text, full);
  if (fast !== undefined) return fast;
  await loadFullYaml();
  return full();
}

/** yaml's CST and Document: positions for every node, and herald's own wording of every error. */
function parseYamlFull(file: string, text: string): YamlSource {
  const { isScalar, LineCounter, Parser } = yaml();
  const lineCounter = new LineCounter();
  const shown = displayPath(file);
  // logLevel 'error': yaml's warnings would go to process.emitWarning; what matters is reported as problems.
  // The text is parsed to yaml's CST once: the depth check reads it, then the composer builds the
  // document from the same tokens (parseDocument would parse the text a second time).
  const tokens = [...new Parser(lineCounter.addNewLine).parse(text)];
  const deep = tooDeepAt(tokens);
  const doc = composeDocument(deep === undefined ? tokens : [], deep === undefined ? text.length : 0);
  const at = (offset: number): { line: number; col: number } => lineCounter.linePos(offset);

  if (deep !== undefined) {
    const before = text.slice(0, deep).split('\n');
    const where = `${shown}:${before.length}:${(before[before.length - 1]?.length ?? 0) + 1}`;
    return { file, data: undefined, errors: [`${where}: YAML error: nested deeper than ${MAX_DEPTH} levels`], locate: () => where, line: () => where.replace(/:\d+$/, ''), has: () => false, fast: false };
  }

  const errors = doc.errors.map((err) => {
    const { line, col } = at(err.pos[0]);
    const message = err.code === 'MULTIPLE_DOCS' ? 'a config file holds one YAML document; remove the "---" separator' : yamlMessage(err.message);
    return `${shown}:${line}:${col}: YAML syntax error: ${message}`;
  });

  let data: unknown;
  if (errors.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      // Alias bombs and similar: the YAML is well-formed but not something we will expand.
      errors.push(`${shown}:1:1: YAML error: ${oneLine(err instanceof Error ? err.message : String(err))}`);
    }
  }

  const find = (keyPath: KeyPath): { node: Node | null; pair: Pair | null; found: boolean } => {
    let node = resolve(doc, doc.contents);
    let pair: Pair | null = null;
    for (const segment of keyPath) {
      const next = child(doc, node, segment);
      if (!next) return { node, pair, found: false };
      ({ node, pair } = next);
    }
    return { node, pair, found: true };
  };

  const position = (keyPath: KeyPath, atKey: boolean): { line: number; col: number } => {
    const { node, pair, found } = find(keyPath);
    const keyNode = pair && isScalar(pair.key) ? pair.key : null;
    // An empty value (`key:`) has no text of its own; point at its key instead.
    const emptyValue = !node || !node.range || (isScalar(node) && node.range[0] === node.range[1]);
    const target = (found && atKey) || emptyValue ? (keyNode ?? node) : node;
    const offset = target?.range?.[0];
    return offset === undefined ? { line: 1, col: 1 } : at(offset);
  };

  return {
    file,
    data,
    errors,
    fast: false,
    locate(keyPath, atKey = false) {
      const { line, col } = position(keyPath, atKey);
      return `${shown}:${line}:${col}`;
    },
    line(keyPath) {
      return `${shown}:${position(keyPath, false).line}`;
    },
    has(keyPath) {
      return find(keyPath).found;
    },
  };
}

/** No config needs more; yaml's composer recurses once per level, so a deeper document is refused before it. */
const MAX_DEPTH = 64;

/**
 * The offset of the first collection nested deeper than MAX_DEPTH, or undefined. Measured on yaml's
 * CST, which its parser builds without recursion, with an explicit stack: a document nested some
 * thousands deep would otherwise exhaust the call stack in the composer, and where that happens
 * inside V8's regexp compiler it is a fatal "out of memory" crash rather than a catchable error.
 */
function tooDeepAt(tokens: readonly unknown[]): number | undefined {
  type Cst = { type?: string; offset?: number; items?: Array<{ key?: unknown; value?: unknown }>; value?: unknown };
  const stack: Array<[Cst, number]> = [];
  for (const token of tokens) stack.push([token as Cst, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    const collection = token.type === 'block-map' || token.type === 'block-seq' || token.type === 'flow-collection';
    const level = collection ? depth + 1 : depth;
    if (level > MAX_DEPTH) return token.offset ?? 0;
    for (const item of token.items ?? []) {
      if (item.key !== null && typeof item.key === 'object') stack.push([item.key as Cst, level]);
      if (item.value !== null && typeof item.value === 'object') stack.push([item.value as Cst, level]);
    }
    if (token.value !== null && typeof token.value === 'object') stack.push([token.value as Cst, level]);
  }
  return undefined;
}

/** What yaml's parseDocument does after parsing (its options as herald always used them): one document, a second one is an error. */
function composeDocument(tokens: CST.Token[], length: number): Document.Parsed {
  const { Composer, YAMLParseError } = yaml();
  const composer = new Composer({ prettyErrors: false, merge: true, uniqueKeys: true, logLevel: 'error' });
  let doc: Document.Parsed | undefined;
  for (const next of composer.compose(tokens, true, length)) {
    if (doc === undefined) doc = next;
    else {
      doc.errors.push(new YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
      break;
    }
  }
  return doc!;
}

function resolve(doc: Document, node: unknown): Node | null {
  if (yaml().isAlias(node)) return (node.resolve(doc) as Node | undefined) ?? null;
  return (node as Node | null) ?? null;
}

function child(doc: Document, node: Node | null, segment: string | number): { node: Node | null; pair: Pair | null } | null {
  const { isMap, isPair, isScalar, isSeq } = yaml();
  if (isSeq(node) && typeof segment === 'number') {
    const item = node.items[segment];
    return item === undefined ? null : { node: resolve(doc, item), pair: null };
  }
  if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const key = isScalar(item.key) ? item.key.value : item.key;
      if (String(key) === String(segment)) return { node: resolve(doc, item.value), pair: item };
    }
    // A key brought in by a merge (`<<: *defaults`): look in the merged maps.
    for (const item of node.items) {
      if (isPair(item) && isMergeKey(item.key)) {
        const merged = resolve(doc, item.value);
        const sources = isSeq(merged) ? merged.items.map((m) => resolve(doc, m)) : [merged];
        for (const source of sources) {
          const found = child(doc, source, segment);
          if (found) return found;
        }
      }
    }
  }
  return null;
}

/** With `merge: true`, yaml gives the `<<` key a symbol value. */
function isMergeKey(key: unknown): boolean {
  if (!yaml().isScalar(key)) return false;
  const value = key.value;
  return value === '<<' || (typeof value === 'symbol' && value.description === '<<');
}

/** yaml's messages sometimes end with a position or carry a code excerpt; keep the sentence. */
function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}
