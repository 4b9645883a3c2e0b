/**
 * What a run checks (src/watch/collect.ts): the config's images and each source's, one check per
 * (reference, platform), and a source that cannot list costing only its own images.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/util/log.js';
import { collectImages } from '../../../src/watch/collect.js';
import { ListingBuilder } from '../../../src/sources/listing.js';
import { SourceError, type ImageSource, type ListContext } from '../../../src/sources/source.js';

const D = `sha256:${'d'.repeat(64)}`;
const dir = mkdtempSync(path.join(tmpdir(), 'herald-collect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A source as the engine sources are: containers through the ListingBuilder. */
function source(name: string, containers: Array<{ name: string; image: string; labels?: Record<string, string> }>): ImageSource {
  return {
    name,
    type: 'docker',
    async list(ctx: ListContext) {
      const b = new ListingBuilder({ source: name, watchByDefault: true }, ctx);
      for (const c of containers) b.add({ name: c.name, id: `id-${c.name}`, image: c.image, labels: c.labels ?? {}, platform: 'linux/amd64', runningDigest: D });
      return b.result();
    },
    async close() {},
  };
}

function failing(name: string, err: Error): ImageSource {
  return { name, type: 'kubernetes', list: () => Promise.reject(err), close: async () => {} };
}

async function config(): Promise<Awaited<ReturnType<typeof loadConfig>>> {
  const file = path.join(dir, 'herald.yml');
  writeFileSync(file, 'defaults:\n  platform: linux/amd64\nimages:\n  - name: registry.example.com/team/app:1\n    metadata: { from: config }\n');
  return loadConfig(file, {});
}

describe('collectImages', () => {
  it('checks one image once however many sources and containers have it; the config\'s settings hold', async () => {
    const local = source('local', [
      { name: 'web-1', image: 'registry.example.com/team/app:1', labels: { 'herald.metadata.from': 'label' } },
      { name: 'db', image: 'registry.example.com/team/db:2' },
    ]);
    const edge = source('edge', [{ name: 'web-9', image: 'registry.example.com/team/app:1' }]);
    const c = await collectImages(await config(), [local, edge], silentLogger);
    expect(c.images.map((i) => [i.ref.name, i.sources, i.containers?.map((x) => `${x.source}/${x.name}`)])).toEqual([
      ['registry.example.com/team/app:1', ['config', 'local', 'edge'], ['local/web-1', 'edge/web-9']],
      ['registry.example.com/team/db:2', ['local'], ['local/db']],
    ]);
    expect(c.images[0]?.metadata).toEqual({ from: 'config' });
    expect(c.sources.map((s) => [s.name, s.error, s.images, s.containers])).toEqual([['local', null, 2, 2], ['edge', null, 1, 1]]);
    expect(c.containers.map((w) => [w.source, w.containers.map((x) => `${x.name}@${x.image}`)])).toEqual([
      ['local', ['web-1@registry.example.com/team/app:1', 'db@registry.example.com/team/db:2']],
      ['edge', ['web-9@registry.example.com/team/app:1']],
    ]);
  });

  it('a source that cannot list is its one line; the others go on and nothing of it is stored', async () => {
    const c = await collectImages(
      await config(),
      [failing('prod', new SourceError('source prod: the cluster refused the credentials (401 Unauthorized)')), source('local', [{ name: 'db', image: 'registry.example.com/team/db:2' }])],
      silentLogger,
    );
    expect(c.sources).toEqual([
      { name: 'prod', type: 'kubernetes', error: 'source prod: the cluster refused the credentials (401 Unauthorized)', images: 0, containers: 0, unwatched: [] },
      { name: 'local', type: 'docker', error: null, images: 1, containers: 1, unwatched: [] },
    ]);
    expect(c.images.map((i) => i.ref.name)).toEqual(['registry.example.com/team/app:1', 'registry.example.com/team/db:2']);
    expect(c.containers.map((w) => w.source)).toEqual(['local']);
  });

  it('a source failing in a way no user causes is reported as a bug, and still only costs its own images', async () => {
    const c = await collectImages(await config(), [failing('prod', new TypeError('x is undefined'))], silentLogger);
    expect(c.sources[0]?.error).toBe('source prod: listing failed unexpectedly (a bug): x is undefined');
    expect(c.images).toHaveLength(1);
  });
});
