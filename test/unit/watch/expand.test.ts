/**
 * The bookkeeping of watchRepo expansion (src/watch/expand.ts) over tag lists given as data: which
 * tags count as appeared, what is remembered of a listing when checks fail, when states are dropped.
 * The registry side is covered end to end in test/integration/watch-repo.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { WatchedImage } from '../../../src/model/image.js';
import { silentLogger } from '../../../src/util/log.js';
import { parseReference, type ImageReference } from '../../../src/model/reference.js';
import type { TagListing } from '../../../src/registry/tags.js';
import { stateKey, type ImageState } from '../../../src/model/state.js';
import type { KnownRepository } from '../../../src/store/repositories.js';
import { errorOutcome, type CheckOutcome } from '../../../src/watch/check.js';
import { expandImages, repositoryWrites, type ExpandOptions } from '../../../src/watch/expand.js';

function image(name: string, extra: Partial<WatchedImage> = {}): WatchedImage {
  return {
    name, ref: parseReference(name), platform: 'linux/amd64', notifyOn: ['new', 'update'], metadata: {},
    watchRepo: true, includeTags: [], excludeTags: [], sortTags: 'semver', maxTags: 0, newerOnly: false,
    sameFlavour: true, includePrereleases: false, source: 'test.yml:1', ...extra,
  };
}

function state(name: string, platform = 'linux/amd64'): ImageState {
  return {
    image: parseReference(name).name, platform, digest: 'sha256:' + '0'.repeat(64), mediaType: null, platformDigest: null,
    created: null, labels: null, firstSeen: 't0', lastChecked: 't0', lastChanged: null, error: null, errorSince: null,
  };
}

function lister(listings: Record<string, TagListing | Error>): ExpandOptions['lister'] & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    listTags: async (ref: ImageReference) => {
      const key = `${ref.registry}/${ref.repository}`;
      calls.push(key);
      const l = listings[key];
      if (l === undefined) throw new Error(`unexpected listing of ${key}`);
      if (l instanceof Error) throw l;
      return l;
    },
  };
}

const ok = (outcome: Partial<CheckOutcome> = {}): CheckOutcome => ({ ...errorOutcome('x', undefined), status: 'new', error: null, ...outcome });
const R = 'ghcr.io/acme/api';

describe('expandImages', () => {
  const options = (l: ExpandOptions['lister'], known?: KnownRepository, previous: ImageState[] = [], all?: WatchedImage[]): ExpandOptions => ({
    lister: l,
    known: () => known,
    previous: new Map(previous.map((s) => [stateKey(s.image, s.platform), s])),
    ...(all !== undefined ? { all } : {}),
    concurrency: 4,
    logger: silentLogger,
  });

  it('lists a repository once for several watchers, and checks a tag once, configured images first', async () => {
    const l = lister({ [R]: { tags: ['1.0.0', '1.1.0', '2.0.0', 'latest'], complete: true, pages: 1 } });
    const a = image(`${R}:1.0.0`, { newerOnly: true });
    const b = image(`${R}:latest`);
    const plain = image(`${R}:2.0.0`, { watchRepo: false, notifyOn: ['update'] });
    const { items } = await expandImages([a, b, plain], options(l));
    expect(l.calls).toEqual([R]);
    expect(items.map((i) => [i.image.ref.tag, i.owner.ref.tag, i.expanded?.currentTag ?? null])).toEqual([
      ['1.0.0', '1.0.0', null],
      ['1.1.0', '1.0.0', '1.0.0'], // 2.0.0 belongs to the configured plain image
      ['latest', 'latest', null],
      ['2.0.0', '2.0.0', null],
    ]);
  });

  it('marks as appeared only tags missing from the last recorded listing', async () => {
    const l = lister({ [R]: { tags: ['1.0.0', '1.1.0', '1.2.0'], complete: true, pages: 1 } });
    const first = await expandImages([image(`${R}:1.0.0`)], options(l));
    expect(first.items.filter((i) => i.expanded).map((i) => [i.image.ref.tag, i.expanded!.appeared])).toEqual([['1.2.0', false], ['1.1.0', false]]);
    const known = { repository: R, firstListed: 't0', tags: new Set(['1.0.0', '1.1.0']) };
    const later = await expandImages([image(`${R}:1.0.0`)], options(l, known));
    expect(later.items.filter((i) => i.expanded).map((i) => [i.image.ref.tag, i.expanded!.appeared])).toEqual([['1.2.0', true], ['1.1.0', false]]);
  });

  it('turns a failed listing into the image its failure, and drops nothing', async () => {
    const l = lister({ [R]: new Error('ghcr.io/acme/api: unauthorized (401): no credentials') });
    const x = await expandImages([image(`${R}:1.0.0`)], options(l, undefined, [state(`${R}:1.1.0`)]));
    expect(x.items).toEqual([expect.objectContaining({ failure: `${R}:1.0.0: cannot list the repository's tags: ghcr.io/acme/api: unauthorized (401): no credentials` })]);
    expect(x.drops).toEqual([]);
    expect(x.listings).toEqual([]);
  });

  it('drops states of tags gone or no longer selected, only when the listing is complete and every watcher ran', async () => {
    const previous = [state(`${R}:0.9.0`), state(`${R}:1.1.0`), state(`${R}:1.0.0`), state(`${R}:1.1.0`, 'linux/arm64'), state('ghcr.io/acme/other:1')];
    const watcher = image(`${R}:1.0.0`, { includeTags: ['^1\\.2'] });
    const complete = lister({ [R]: { tags: ['1.0.0', '1.1.0', '1.2.0'], complete: true, pages: 1 } });
    const x = await expandImages([watcher], options(complete, undefined, previous));
    expect(x.drops).toEqual([
      { image: `${R}:0.9.0`, platform: 'linux/amd64', tag: '0.9.0', owner: `${R}:1.0.0`, gone: true },
      { image: `${R}:1.1.0`, platform: 'linux/amd64', tag: '1.1.0', owner: `${R}:1.0.0`, gone: false },
    ]);

    const partial = lister({ [R]: { tags: ['1.0.0', '1.1.0', '1.2.0'], complete: false, pages: 100 } });
    expect((await expandImages([watcher], options(partial, undefined, previous))).drops).toEqual([]);
    // check --image with only one of two watchers of the repository: the other's tags are not ours to drop.
    const other = image(`${R}:latest`);
    expect((await expandImages([watcher], options(complete, undefined, previous, [watcher, other]))).drops).toEqual([]);
  });
});

describe('repositoryWrites', () => {
  it('remembers every tag of a first listing, whatever the checks did', async () => {
    const l = lister({ [R]: { tags: ['1.0.0', '1.1.0'], complete: true, pages: 1 } });
    const x = await expandImages([image(`${R}:1.0.0`)], { lister: l, known: () => undefined, previous: new Map(), concurrency: 1, logger: silentLogger });
    expect(repositoryWrites(x, [ok(), errorOutcome('boom', undefined)], 't1')).toEqual([{ repository: R, at: 't1', added: ['1.0.0', '1.1.0'], removed: [] }]);
  });

  it('does not remember an appeared tag whose check failed or was skipped, so it is still new next run', async () => {
    const l = lister({ [R]: { tags: ['1.0.0', '1.1.0', '1.2.0', '1.3.0'], complete: true, pages: 1 } });
    const known = { repository: R, firstListed: 't0', tags: new Set(['1.0.0', 'gone']) };
    const x = await expandImages([image(`${R}:1.0.0`)], { lister: l, known: () => known, previous: new Map(), concurrency: 1, logger: silentLogger });
    const byTag = new Map(x.items.map((item, i) => [item.image.ref.tag, i]));
    const outcomes: Array<CheckOutcome | undefined> = [];
    outcomes[byTag.get('1.0.0')!] = ok({ status: 'unchanged' });
    outcomes[byTag.get('1.3.0')!] = ok();
    outcomes[byTag.get('1.2.0')!] = errorOutcome('manifest unknown', undefined);
    outcomes[byTag.get('1.1.0')!] = undefined; // skipped by a shutdown
    expect(repositoryWrites(x, outcomes, 't1')).toEqual([{ repository: R, at: 't1', added: ['1.3.0'], removed: ['gone'] }]);
  });
});
