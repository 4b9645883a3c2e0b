/**
 * The shape of the house: src/'s folders import one another in one direction only (type-only
 * imports and lazy import() included), and no source file grows past 400 lines. A failure names
 * the cycle with one import of each step, or the file, so it says what to move.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', '..', 'src');
const MAX_LINES = 400;
/**
 * The one direction, leaves first: a folder imports only folders before it. The README's
 * development section says the same. A new folder takes its place here.
 */
const LAYERS = ['util', 'model', 'tags', 'store', 'notify', 'sources', 'config', 'registry', 'watch', 'server', 'daemon', 'cli'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

/** `import … from './x.js'`, `import type …`, `export … from`, `import('./x.js')`, `import './x.js'`. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The folder directly under src/ a file belongs to; a file right in src/ is a folder of its own. */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts.length > 1 ? parts[0]! : parts[0]!.replace(/\.ts$/, '');
}

/** folder → folder it imports → one import that does it ("a/x.ts → b/y.ts"). */
function folderGraph(files: readonly string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files) {
    const from = folderOf(file);
    if (!graph.has(from)) graph.set(from, new Map());
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]!).replace(/\.js$/, '.ts');
      if (!target.startsWith(SRC)) continue;
      const to = folderOf(target);
      if (to === from || graph.get(from)!.has(to)) continue;
      graph.get(from)!.set(to, `${relative(SRC, file)} → ${relative(SRC, target)}`);
    }
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as its chain of imports. */
function cycles(graph: Map<string, Map<string, string>>): string[][] {
  const found: string[][] = [];
  const seen = new Set<string>();
  const walk = (node: string, path: string[]): void => {
    const at = path.indexOf(node);
    if (at >= 0) {
      const loop = [...path.slice(at), node];
      const key = [...loop.slice(0, -1)].sort().join(',');
      if (!seen.has(key)) {
        seen.add(key);
        found.push(loop.slice(0, -1).map((step, i) => graph.get(step)!.get(loop[i + 1]!)!));
      }
      return;
    }
    if (path.length > graph.size) return;
    for (const next of graph.get(node)?.keys() ?? []) walk(next, [...path, node]);
  };
  for (const node of graph.keys()) walk(node, []);
  return found;
}

describe('the folders of src/', () => {
  const files = sourceFiles(SRC);
  const graph = folderGraph(files);

  it('import each other in one direction only', () => {
    const found = cycles(graph).map((chain) => chain.join('  ⇒  '));
    expect(found, `import cycles between folders:\n${found.join('\n')}`).toEqual([]);
  });

  it('import only folders before them in the layer order', () => {
    expect([...graph.keys()].filter((folder) => !LAYERS.includes(folder)), 'folders missing from LAYERS').toEqual([]);
    const upward = [...graph].flatMap(([from, targets]) =>
      [...targets].filter(([to]) => LAYERS.indexOf(to) >= LAYERS.indexOf(from)).map(([, via]) => via),
    );
    expect(upward).toEqual([]);
  });

  it('hold no file over 400 lines', () => {
    const long = files
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.file}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });

  it('open SQLite only through src/store/driver.ts (better-sqlite3 12 aborts on Node 24.19+; tests too)', () => {
    const root = join(SRC, '..');
    const tree = ['src', 'test', 'fixtures', 'bench'].flatMap((d) => sourceFiles(join(root, d)));
    const direct = tree
      .filter((file) => !file.endsWith(join('store', 'driver.ts')))
      .filter((file) => /^import (?!type )[^;]*from 'better-sqlite3(-13)?'/m.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(tree.length).toBeGreaterThan(100);
    expect(direct).toEqual([]);
  });

  it('would catch a cycle (the check itself)', () => {
    const toy = new Map([
      ['a', new Map([['b', 'a/x.ts → b/y.ts']])],
      ['b', new Map([['c', 'b/y.ts → c/z.ts']])],
      ['c', new Map([['a', 'c/z.ts → a/x.ts']])],
      ['d', new Map([['a', 'd/w.ts → a/x.ts']])],
    ]);
    expect(cycles(toy)).toEqual([['a/x.ts → b/y.ts', 'b/y.ts → c/z.ts', 'c/z.ts → a/x.ts']]);
    // And reads type-only and lazy imports, which a bundler-based check could miss.
    const text = "import type { A } from '../model/a.js';\nconst b = await import('../store/b.js');\nexport { c } from './c.js';";
    expect([...text.matchAll(IMPORT)].map((m) => m[1])).toEqual(['../model/a.js', '../store/b.js', './c.js']);
  });
});
