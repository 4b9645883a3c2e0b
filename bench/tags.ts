/**
 * What reading a repository's tags costs: the largest real tag lists of the peer case data
 * (test/fixtures/peer-version-cases.json: php 3,491 tags, dotnet, windows-servercore, owasp, python)
 * parsed, filtered and sorted as a watchRepo image with newerOnly and sortTags: semver does it
 * (selectTags), and explained as `herald tags` does it (explainTags). In process, no registry.
 * The first pass of each list is cold (code not yet optimized; semver is loaded before it); the
 * target is judged on the median of the warm passes after it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseReference } from '../src/model/reference.js';
import { selectTags, type TagOptions } from '../src/tags/select.js';
import { explainTags } from '../src/tags/explain.js';
import { parseTag } from '../src/tags/versions.js';

const LISTS: Array<[key: string, current: string]> = [
  ['dependabot:php.json', '7.4.0-fpm-buster'],
  ['dependabot:dotnet.json', '2.0-sdk'],
  ['dependabot:windows-servercore.json', '1803-KB4487017'],
  ['dependabot:owasp.json', '3.3-apache-202209221209'],
  ['dependabot:python.json', '3.6.2-alpine3.6'],
];
const PASSES = 25;
/** The target: all of php's tags parsed, filtered and sorted in under this. */
export const TAGS_TARGET_MS = 20;

export interface TagListFigures {
  name: string;
  tags: number;
  kept: number;
  coldMs: number;
  selectMs: number;
  selectMaxMs: number;
  explainMs: number;
}
export type TagsFigures = TagListFigures[];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => unknown): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

export function measureTags(root: string): TagsFigures {
  const data = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'peer-version-cases.json'), 'utf8')) as { tagLists: Record<string, { repository: string; tags: string[] }> };
  parseTag('1.0.0-rc1'); // loads semver (lazily imported) outside the timings
  return LISTS.map(([key, current]) => {
    const list = data.tagLists[key]!;
    const opts: TagOptions = {
      ref: parseReference(`${list.repository}:${current}`), includeTags: [], excludeTags: ['^sha256-'], sortTags: 'semver', maxTags: 0,
      newerOnly: true, sameFlavour: true, includePrereleases: false,
    };
    let kept = 0;
    const coldMs = time(() => (kept = selectTags(list.tags, opts).kept.length));
    const select: number[] = [];
    const explain: number[] = [];
    for (let i = 0; i < PASSES; i++) {
      select.push(time(() => selectTags(list.tags, opts)));
      explain.push(time(() => explainTags(list.tags, opts)));
    }
    return { name: list.repository, tags: list.tags.length, kept, coldMs, selectMs: median(select), selectMaxMs: Math.max(...select), explainMs: median(explain) };
  });
}

export function tagLines(figures: TagsFigures): string[] {
  return [
    `Tags (parse, filter with newerOnly, sort by semver; median of ${PASSES} warm passes, the first pass cold):`,
    '',
    '| list | tags | kept | cold | selectTags | (max) | explainTags |',
    '|---|---|---|---|---|---|---|',
    ...figures.map((f) => `| ${f.name} | ${f.tags} | ${f.kept} | ${f.coldMs.toFixed(1)} ms | ${f.selectMs.toFixed(2)} ms | ${f.selectMaxMs.toFixed(2)} ms | ${f.explainMs.toFixed(2)} ms |`),
  ];
}

export function tagTargets(figures: TagsFigures | undefined, add: (target: string, measured: string, met: boolean | undefined) => void): void {
  const php = figures?.find((f) => f.tags === 3491);
  add(
    `watchRepo: the 3,491 php tags parsed, filtered and sorted in under ${TAGS_TARGET_MS} ms`,
    php ? `${php.selectMs.toFixed(2)} ms warm (max ${php.selectMaxMs.toFixed(2)} ms), ${php.coldMs.toFixed(1)} ms cold; herald tags' explanation ${php.explainMs.toFixed(2)} ms` : '-',
    php ? php.selectMs < TAGS_TARGET_MS : undefined,
  );
}
