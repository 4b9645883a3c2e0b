/**
 * Reading kubeconfig files: YAML with `clusters`, `users` and `contexts` (each a list of
 * `{name, cluster|user|context}`) and `current-context`. Several files (a $KUBECONFIG list) merge as
 * kubectl merges them: the first file that names an entry wins, and the first current-context set.
 * Paths inside an entry resolve against the folder of the file that holds it.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fsReason } from '../util/fs.js';
import { isPlainObject } from '../util/text.js';

export interface KubeconfigEntry {
  value: Record<string, unknown>;
  /** The folder of the file it came from. */
  dir: string;
}

export interface Kubeconfig {
  /** The file, or the files joined with ':', for messages. */
  label: string;
  clusters: Map<string, KubeconfigEntry>;
  users: Map<string, KubeconfigEntry>;
  contexts: Map<string, KubeconfigEntry>;
  currentContext: string | undefined;
}

/** A problem with the cluster or its credentials, in words for the user; the source prefixes its name. */
export class KubeProblem extends Error {
  constructor(
    message: string,
    /** The HTTP status, when the API server answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'KubeProblem';
  }
}

/** A kubeconfig scalar as text: YAML reads `token: 12345` as a number. Empty is unset. */
export function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

const SECTIONS = { clusters: 'cluster', users: 'user', contexts: 'context' } as const;

/**
 * Reads and merges `files`. A missing file is an error when `required` (the source's own kubeconfig
 * key); in a $KUBECONFIG list it is skipped, as kubectl skips it. Undefined when none exists.
 */
/** yaml is loaded when a kubeconfig is read, not at start-up (config/source.ts loads it only when needed too). */
function yamlLibrary(): Promise<typeof import('yaml')> {
  return import('yaml');
}

export async function readKubeconfig(files: readonly string[], required: boolean): Promise<Kubeconfig | undefined> {
  const merged: Kubeconfig = { label: files.join(':'), clusters: new Map(), users: new Map(), contexts: new Map(), currentContext: undefined };
  let found = 0;
  for (const file of files) {
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (err) {
      if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new KubeProblem(`cannot read kubeconfig ${file}: ${fsReason(err)}`);
    }
    found++;
    const doc = parseKubeconfig(file, content, await yamlLibrary());
    const dir = path.dirname(file);
    for (const [section, inner] of Object.entries(SECTIONS) as [keyof typeof SECTIONS, string][]) {
      const list = doc[section];
      if (list === undefined || list === null) continue;
      if (!Array.isArray(list)) throw new KubeProblem(`kubeconfig ${file}: ${section} is not a list`);
      list.forEach((item: unknown, i) => {
        const name = isPlainObject(item) ? text(item.name) : undefined;
        if (name === undefined || !isPlainObject(item)) throw new KubeProblem(`kubeconfig ${file}: ${section}[${i}] has no name`);
        const value = item[inner];
        if (!isPlainObject(value)) throw new KubeProblem(`kubeconfig ${file}: ${section}[${i}] ("${name}") has no ${inner} map`);
        if (!merged[section].has(name)) merged[section].set(name, { value, dir });
      });
    }
    merged.currentContext ??= text(doc['current-context']);
  }
  return found > 0 ? merged : undefined;
}

/**
 * The file's top-level map. A YAML error names the line and the parser's reason but never quotes
 * the text: the line may hold a token.
 */
function parseKubeconfig(file: string, content: string, { parse, YAMLParseError }: typeof import('yaml')): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(content, { maxAliasCount: 100 });
  } catch (err) {
    if (!(err instanceof YAMLParseError)) throw err;
    const line = err.linePos?.[0].line;
    const reason = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new KubeProblem(`kubeconfig ${file}: not valid YAML${line !== undefined ? ` at line ${line}` : ''}: ${reason}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isPlainObject(doc)) throw new KubeProblem(`kubeconfig ${file}: not a kubeconfig (a map with clusters, users and contexts)`);
  return doc;
}
