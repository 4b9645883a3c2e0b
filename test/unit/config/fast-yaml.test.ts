/**
 * The fast YAML path (src/config/fast-yaml.ts, js-yaml) against the full one (yaml): on every YAML
 * file of the repository, every YAML example in the README and a list of tricky documents, the fast
 * path either declines or gives the same data (value types included), the same `line` for every
 * top-level list item and the same `has` on every key path. And it is taken for ordinary configs,
 * without building the full path for the lines of their images.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fastYaml } from '../../../src/config/fast-yaml.js';
import type { KeyPath } from '../../../src/config/problems.js';
import { parseYaml, type YamlSource } from '../../../src/config/source.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function yamlFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const file = path.join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    if (statSync(file).isDirectory()) return yamlFiles(file);
    return /\.ya?ml$/.test(name) ? [file] : [];
  });
}

const repoFiles = ['fixtures', 'test', 'docs', 'config', 'examples', 'deploy', 'bench'].flatMap((dir) => yamlFiles(path.join(root, dir))).sort();

function markdownBlocks(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}
const markdownFiles = [path.join(root, 'README.md'), ...readdirSync(path.join(root, 'docs')).filter((n) => n.endsWith('.md')).map((n) => path.join(root, 'docs', n))];
const readmeBlocks = markdownFiles.flatMap((file) => markdownBlocks(file).map((text, i) => ({ name: `${path.relative(root, file)} block ${i + 1}`, text })));

/** Every key path of a value: maps' keys, lists' indexes. */
function keyPaths(value: unknown, at: KeyPath = []): KeyPath[] {
  const out: KeyPath[] = [at];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...keyPaths(item, [...at, i])));
  else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) out.push(...keyPaths(item, [...at, key]));
  return out;
}

const FILE = path.join(root, 'fast-yaml-test.yml');

/** 'fast' when the fast path was taken and agreed with the full one, 'declined' when it fell back. */
function compare(text: string, file = FILE): 'fast' | 'declined' {
  const full = parseYaml(file, text, { full: true });
  const fast = parseYaml(file, text);
  if (!fast.fast) {
    // Declined: the full path's source, unchanged.
    expect(fast.errors).toEqual(full.errors);
    expect(fast.data).toStrictEqual(full.data);
    return 'declined';
  }
  expect(full.errors, 'the fast path took a document the full path rejects').toEqual([]);
  expect(fast.errors).toEqual([]);
  expect(fast.data).toStrictEqual(full.data);
  sameLines(fast, full);
  for (const keyPath of keyPaths(full.data)) {
    expect(fast.has(keyPath), JSON.stringify(keyPath)).toBe(full.has(keyPath));
    for (const extra of ['absent', 0, 1, -1, 99, 1.5, '0']) {
      const longer = [...keyPath, extra];
      expect(fast.has(longer), JSON.stringify(longer)).toBe(full.has(longer));
    }
    expect(fast.locate(keyPath)).toBe(full.locate(keyPath));
    expect(fast.locate(keyPath, true)).toBe(full.locate(keyPath, true));
  }
  return 'fast';
}

function sameLines(fast: YamlSource, full: YamlSource): void {
  const data = full.data;
  if (Array.isArray(data)) data.forEach((_, i) => expect(fast.line([i]), `[${i}]`).toBe(full.line([i])));
  const images = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>).images : undefined;
  if (Array.isArray(images)) images.forEach((_, i) => expect(fast.line(['images', i]), `images[${i}]`).toBe(full.line(['images', i])));
  for (const keyPath of [['images', 99], ['images', 'x'], [99], ['watch'], ['images']] as KeyPath[]) expect(fast.line(keyPath)).toBe(full.line(keyPath));
}

/** Calls fastYaml directly, counting how often it builds the full path. */
function fastOnly(text: string): { source: YamlSource | undefined; fullBuilds: () => number } {
  let builds = 0;
  const source = fastYaml(FILE, text, () => {
    builds++;
    return parseYaml(FILE, text, { full: true });
  });
  return { source, fullBuilds: () => builds };
}

function bigConfig(count: number): string {
  const lines = ['db: { path: "/tmp/x.db" }', 'defaults: { platform: linux/amd64 }', 'registries:', '  - name: bench', '    host: "127.0.0.1:5000"', '    insecure: true', 'images:'];
  for (let i = 0; i < count; i++) {
    const name = `127.0.0.1:5000/bench/app-${String(i).padStart(5, '0')}:1.0`;
    switch (i % 5) {
      case 0:
        lines.push(`  - name: ${name}`, '    watchRepo: true', '    newerOnly: true', '    sortTags: semver');
        break;
      case 1:
        lines.push('  -', `    name: ${name}`, '    # a comment', '    watchRepo: false');
        break;
      case 2:
        lines.push(`  - { name: "${name}", watchRepo: true }`);
        break;
      case 3:
        lines.push('  # between items', '', `  - name: '${name}'   # trailing`, '    notifyOn: [new, update]');
        break;
      default:
        lines.push(`  - name: ${name}`, '    labels:', '      team: a', '      "key with spaces": yes');
    }
  }
  return `${lines.join('\n')}\n`;
}

const SCALARS = [
  '1_000', '0o17', '017', '0x1F', '0X1F', '+0x1F', '0x', '+12', '-12', '-0', '+0', '0', '00', '12345678901234567890', '.5', '-.5', '1.', '1.0', '1.50',
  '1e3', '1E3', '1.5e-3', '.5e+2', '1e', 'e3', '.inf', '-.Inf', '+.INF', '.NaN', '.nan', '.NAN', '-.nan', '.Nan', 'inf', 'nan', 'NaN', 'Infinity',
  '~', 'null', 'Null', 'NULL', 'nULL', 'yes', 'no', 'Yes', 'NO', 'on', 'off', 'y', 'n', 'Y', 'true', 'True', 'TRUE', 'tRue', 'false', 'False', 'FALSE',
  '2024-01-01', '2024-01-01T10:00:00Z', '1:20', '1:20:30', '190:20:30', '0b101', '1,000', '$1', '10%', '3 min', 'a b', 'a#b', 'a #b',
  'http://x.y/z?a=1&b=2', 'foo:bar', '-', '--', '-a', '?a', ':a', 'a:', '@a', '`a', '=', '<<', 'a*b', 'x!', 'é', '日本',
];

function tricky(): Array<{ name: string; text: string }> {
  const docs: Array<{ name: string; text: string }> = [];
  for (const scalar of SCALARS) {
    docs.push({ name: `value ${scalar}`, text: `key: ${scalar}\n` });
    docs.push({ name: `item ${scalar}`, text: `- ${scalar}\n- [${scalar}]\n` });
    docs.push({ name: `key ${scalar}`, text: `${scalar}: v\n` });
    docs.push({ name: `flow ${scalar}`, text: `{k: ${scalar}, l: [${scalar}, x]}\n` });
    docs.push({ name: `'${scalar}'`, text: `key: '${scalar.replace(/'/g, "''")}'\n` });
    docs.push({ name: `"${scalar}"`, text: `key: "${scalar.replace(/["\\]/g, '\\$&')}"\n` });
  }
  const more: Record<string, string> = {
    empty: '',
    'only comments': '# a\n# b\n',
    'only spaces': '   \n\n',
    'document start': '---\na: 1\n',
    'document start and end': '---\na: 1\n...\n',
    'start with content': '--- a\n',
    'two documents': 'a: 1\n---\nb: 2\n',
    'directive': '%YAML 1.1\n---\na: yes\n',
    'block literal': 'a: |\n  x\n   y\n\n  z\n\nb: 1\n',
    'block strip': 'a: |-\n  x\n  y\n\n',
    'block keep': 'a: >+\n  x\n  y\n\n\nb: 1\n',
    'block folded': 'a: >\n  one\n  two\n\n  three\n    more\n  back\n',
    'block indent indicator': 'a: |2\n   x\n  y\n',
    'block at end without newline': 'a: |\n  x',
    'escapes': 'a: "\\x41\\u00e9\\t\\n\\\\\\"\\/\\0\\a\\b\\e\\f\\r\\v\\N\\_\\L\\P\\U0001F600 end"\n',
    'escaped line break': 'a: "one \\\n  two"\n',
    'double quoted multi-line': 'a: "one\n  two\n\n  three"\n',
    'single quoted multi-line': "a: 'one\n  two\n\n  three ''x'''\n",
    'plain multi-line': 'a: one\n  two\n\n  three\n  four # c\nb: x\n',
    'plain multi-line in a list': '- one\n  two\n- three\n',
    'comments everywhere': '# top\na: 1 # one\n# between\nb: # empty with comment\n  # inside\n  c: 2\n',
    'empty values': 'a:\nb: ~\nc: null\nd: ""\ne:\n  f:\n  g: []\n  h: {}\n',
    'empty list items': 'a:\n  -\n  - ~\n  - ""\n',
    'flow collections': 'a: [1, "2", three, {b: c}, [d]]\nb: {x: 1, y: [2], z: }\nc: [\n  1,\n  2,\n]\n',
    'flow mapping multi-line': 'a: {x: 1,\n  y: 2}\n',
    'flow in block, under-indented': 'a: [\nb]\n',
    'pair in flow sequence': 'a: [b: 1, c]\n',
    'keys with spaces': 'a key: 1\n"quoted key": 2\n\'single\': 3\n',
    'non-string keys': '1: a\ntrue: b\n1.5: c\n0x10: d\n.inf: e\n',
    'null key': '~: a\n',
    'empty key': ': a\n',
    'explicit key': '? a\n: b\n',
    'collection key': '[a, b]: c\n',
    'anchor and alias': 'a: &x 1\nb: *x\n',
    'merge': 'base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n',
    'plain merge key': 'a:\n  <<: {x: 1}\n',
    'unknown alias': 'a: *x\n',
    'tags': 'a: !!str 1\nb: !!int "2"\nc: !custom x\n',
    'duplicate keys': 'a: 1\na: 2\n',
    'duplicate keys of two types': '1: a\n"1": b\n',
    'proto key': '__proto__: {a: 1}\nb: 2\n',
    'tab indentation': 'a:\n\tb: 1\n',
    'tab after value': 'a: 1\t\nb:\t2\n',
    'crlf': 'a: 1\r\nb:\r\n  - x\r\n  - y\r\n',
    'lone cr': 'a: 1\rb: 2\n',
    'bom': '\uFEFFa: 1\n',
    'no final newline': 'a: 1',
    'bad indentation': 'a:\n  b: 1\n c: 2\n',
    'seq at map indentation': 'a:\n- 1\n- 2\nb: 3\n',
    'compact nested seq': '- - a\n  - b\n- - c\n',
    'compact map in seq': '- a: 1\n  b: 2\n-   c: 3\n    d: 4\n',
    'quoted trailing content': 'a: "x" y\n',
    'nested compact mapping': 'a: b: c\n',
    'comment without space': 'a: "x"#c\n',
    'hash in plain': 'a: x#y\n',
    'reserved indicator': 'a: @x\n',
    'long line': `a: ${'x'.repeat(2000)}\n`,
    'unicode line separator': 'a: x\u2028y\n',
    'nbsp': 'a:\u00a0b\n',
    'control character': 'a: x\u0001y\n',
    'deep': `${'['.repeat(40)}1${']'.repeat(40)}\n`,
    'very deep': `${'['.repeat(70)}1${']'.repeat(70)}\n`,
    'deep block': Array.from({ length: 66 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n') + ' x\n',
    'images varied layouts':
      'images:\n  - name: a\n  -\n    name: b\n  - # c\n    name: c\n  - {name: d}\n  -   name: e\n\n  # between\n\n  - name: f\n    tag: 1\n  - [x]\n  - plain\n  -\n  - {name: g,\n     tag: 2}\n',
    'images flow': 'images: [{name: a}, {name: b},\n  {name: c}]\n',
    'images under-indented': 'images:\n- name: a\n- name: b\n',
    'images comment before first key': 'images:\n  -\n    # first\n    name: a\n',
    'images empty': 'images:\n',
    'images not a list': 'images: x\n',
    'include file list': '- name: a\n-\n  name: b\n- {name: c}\n# end\n- name: d\n  tag: x\n',
    'include file flow': '[{name: a}, {name: b}]\n',
  };
  for (const [name, text] of Object.entries(more)) docs.push({ name, text });
  return docs;
}

/** Seeded random documents: valid trees with mutations (indentation, stray indicators, comments), and character soup. */
function randomDocuments(seed: number, count: number): string[] {
  let state = seed;
  const rnd = (n: number): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
  const pick = <T,>(items: readonly T[]): T => items[rnd(items.length)]!;
  const SCALAR = ['a', 'b c', '1', '0o7', '1_0', '-.5', 'True', 'no', '~', '"q x"', "'s''x'", '"a\\tb"', '"m\n  l"', "'m\n l'", 'x #c', '|\n  lit\n  lines', '>-\n  fold\n  ed', '[1, b]', '{k: v, l: [1]}', '[a,\n  b]', '{a: 1,\n  b: 2}', '', '"é"', 'multi\n  line'];
  const node = (depth: number, indent: number): string[] => {
    const kind = depth > 3 ? 0 : rnd(4);
    if (kind === 0) return [pick(SCALAR)];
    const out: string[] = [];
    for (let i = 0, n = 1 + rnd(3); i < n; i++) {
      const child = node(depth + 1, indent + 2 + rnd(2));
      const lead = kind === 1 ? '- ' : `${pick(['a', 'b', 'name', 'k k', '"q"', '1', 'tag'])}${i}: `;
      const pad = ' '.repeat(indent);
      if (child.length === 1 && !child[0]!.includes('\n')) out.push(pad + lead + child[0]);
      else if (rnd(3) === 0 || /^[|>"'[{m]/.test(child[0]!)) out.push(pad + lead + child.join('\n').replace(/\n/g, `\n${' '.repeat(indent + 2)}`));
      else out.push(pad + lead.trimEnd(), ...child.map((l) => (l.startsWith(' ') ? l : ' '.repeat(indent + 2) + l)));
    }
    return out.join('\n').split('\n').map((l, i) => (i === 0 ? l.slice(indent) : l));
  };
  const tree = (): string => {
    const lines = node(0, 0).join('\n').split('\n');
    for (let j = 0, m = rnd(4); j < m; j++) {
      const i = rnd(lines.length);
      const r = rnd(6);
      if (r === 0) lines[i] = ` ${lines[i]}`;
      else if (r === 1) lines[i] = lines[i]!.replace(/^ /, '');
      else if (r === 2) lines[i] = lines[i]!.replace(/^(\s*)/, `$1${pick(['- ', '# ', '? ', ': ', '\t', '"', '['])}`);
      else if (r === 3) lines.splice(i, 0, pick(['', '  # c', '...', '---']));
      else if (r === 4) lines[i] = lines[i]! + pick([' #c', '#c', ' :', ',', ']', ' x', '\t']);
      else lines[i] = lines[i]!.replace(/^\s+/, (w) => ' '.repeat(Math.max(0, w.length - 2)));
    }
    return lines.join('\n');
  };
  const SOUP = ['a', 'b', ' ', ' ', '\n', '\n  ', ':', ': ', '- ', '-', '[', ']', '{', '}', ',', '#', '"', "'", '|', '>', '\t', '1', '.', 'x: ', '\n- ', '  ', '\\', '~'];
  const soup = (): string => {
    let text = pick(['', 'a:\n  - x\n  ', 'k: ', '- ', 'a:\n  b: ', '- a: 1\n  b: ', '- - ', 'x:\n']);
    for (let i = 0, n = 3 + rnd(30); i < n; i++) text += pick(SOUP);
    return text + pick(['', '\nz: 1\n', '\n- y\n']);
  };
  return Array.from({ length: count }, () => {
    const text = (rnd(2) === 0 ? tree() : soup()) + (rnd(4) === 0 ? '' : '\n');
    return rnd(4) === 0 ? text.replace(/\n/g, '\r\n') : text;
  });
}

describe('fast YAML path', () => {
  it('finds the repository YAML files', () => {
    expect(repoFiles.length).toBeGreaterThanOrEqual(30);
    expect(readmeBlocks.length).toBeGreaterThanOrEqual(3);
  });

  it.each(repoFiles.map((file) => [path.relative(root, file), file]))('%s: declines, or agrees with the full path', (_, file) => {
    compare(readFileSync(file, 'utf8'), file);
  });

  it.each(readmeBlocks.map((block) => [block.name, block.text]))('%s: is read by the fast path, agreeing with the full one', (_, text) => {
    expect(compare(text)).toBe('fast');
  });

  it.each(tricky().map((doc) => [doc.name, doc.text]))('%j: declines, or agrees with the full path', (_, text) => {
    compare(text);
  });

  it('reads config/herald.yml and a 300-image config by the fast path, with image lines and has() without the full parse', () => {
    const example = path.join(root, 'config', 'herald.yml');
    expect(compare(readFileSync(example, 'utf8'), example)).toBe('fast');
    const text = bigConfig(300);
    expect(compare(text)).toBe('fast');
    const { source, fullBuilds } = fastOnly(text);
    expect(source?.fast).toBe(true);
    const images = (source!.data as { images: unknown[] }).images;
    expect(images).toHaveLength(300);
    const lines = images.map((_, i) => source!.line(['images', i]));
    expect(lines[0]).toBe(`${path.relative(process.cwd(), FILE)}:8`);
    expect(source!.has(['watch', 'workers'])).toBe(false);
    expect(source!.has(['images', 4, 'labels', 'key with spaces'])).toBe(true);
    expect(fullBuilds()).toBe(0);
    // A position anywhere else builds the full path, once.
    expect(source!.locate(['images', 2, 'name'])).toMatch(/:16:13$/);
    source!.line(['registries', 0]);
    expect(fullBuilds()).toBe(1);
  });

  it('declines, or agrees with the full path, on 6000 random documents', () => {
    let taken = 0;
    for (const text of randomDocuments(20261207, 6000)) {
      const fast = parseYaml(FILE, text);
      if (!fast.fast) continue;
      taken++;
      const full = parseYaml(FILE, text, { full: true });
      expect(full.errors, JSON.stringify(text)).toEqual([]);
      expect(fast.data, JSON.stringify(text)).toStrictEqual(full.data);
      if (Array.isArray(full.data)) full.data.forEach((_, i) => expect(fast.line([i]), JSON.stringify(text)).toBe(full.line([i])));
    }
    expect(taken).toBeGreaterThan(300);
  });

  it('keeps has() to the file: deleting null values or adding keys to the data changes nothing', () => {
    const { source } = fastOnly('a:\nb:\n  c: 1\n');
    const data = source!.data as Record<string, unknown>;
    delete data.a;
    (data.b as Record<string, unknown>).d = 2;
    expect(source!.has(['a'])).toBe(true);
    expect(source!.has(['b', 'd'])).toBe(false);
  });

  it('declines what it cannot be sure of', () => {
    for (const text of ['%YAML 1.1\n---\na: yes\n', 'a: &x 1\nb: *x\n', 'a: !!str 1\n', 'm:\n  <<: {x: 1}\n', '~: a\n', '? a\n: b\n', '[a]: b\n', 'a: 1\na: 2\n', 'a: *x\n', 'a: 1\rb: 2\n']) {
      expect(fastOnly(text).source, JSON.stringify(text)).toBeUndefined();
    }
  });
});
