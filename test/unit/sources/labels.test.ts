/** Container labels and pod annotations as image settings (src/sources/labels.ts, listing.ts). */
import { describe, expect, it } from 'vitest';
import { readLabels } from '../../../src/sources/labels.js';
import { followable, ListingBuilder } from '../../../src/sources/listing.js';

const D = `sha256:${'d'.repeat(64)}`;

describe('readLabels', () => {
  it('reads every image key with its type', () => {
    const r = readLabels(
      {
        'herald.enable': 'true', 'herald.notifyOn': 'update, error', 'herald.notifiers': 'ops', 'herald.platform': 'linux/arm64/v8',
        'herald.watchRepo': 'TRUE', 'herald.includeTags': '^1\\.;^2\\.', 'herald.sortTags': 'semver', 'herald.maxTags': '5',
        'herald.newerOnly': 'false', 'herald.metadata.team': 'web', 'com.example.other': 'ignored',
      },
      ['ops'],
    );
    expect(r.problems).toEqual([]);
    expect(r.enable).toBe(true);
    expect(r.options).toEqual({
      notifyOn: ['update', 'error'], notifiers: ['ops'], platform: 'linux/arm64/v8', watchRepo: true, includeTags: ['^1\\.', '^2\\.'],
      sortTags: 'semver', maxTags: 5, newerOnly: false, metadata: { team: 'web' },
    });
  });

  it('names the label and the problem for each bad value, and keeps the good ones', () => {
    const r = readLabels(
      { 'herald.maxTags': 'ten', 'herald.enable': 'yes', 'herald.notifyOn': 'update,removed', 'herald.includeTags': '([', 'herald.notifiers': 'pager', 'herald.sortTags': 'newest', 'herald.colour': 'red', 'herald.newerOnly': 'true' },
      ['ops'],
    );
    expect(r.options).toEqual({ newerOnly: true });
    expect(r.enable).toBeUndefined();
    expect(r.problems).toEqual([
      'label herald.maxTags: "ten" is not a whole number',
      'label herald.enable: "yes" is not true or false',
      expect.stringMatching(/^label herald\.notifyOn: "update,removed" is not one of new, update, error$/),
      expect.stringMatching(/^label herald\.includeTags: "\(\[" is not valid: invalid regex/),
      'label herald.notifiers: "pager" names unknown notifier "pager" (configured: ops)',
      'label herald.sortTags: "newest" is not one of default, reverse, lexicographical, semver',
      expect.stringMatching(/^label herald\.colour: unknown \(herald reads herald\.enable, /),
    ]);
  });
});

describe('followable', () => {
  it('follows a tag, not a digest or an image id', () => {
    expect(followable('nginx:1.27')).toEqual({ ref: expect.objectContaining({ name: 'docker.io/library/nginx:1.27' }) });
    expect(followable(`nginx:1.27@${D}`)).toEqual({ ref: expect.objectContaining({ name: 'docker.io/library/nginx:1.27' }) });
    expect(followable(`nginx@${D}`)).toEqual({ reason: expect.stringMatching(/^created from a digest \(sha256:dddddddddddd…\), not a tag/) });
    expect(followable(D)).toEqual({ reason: expect.stringMatching(/^created from an image id/) });
    expect(followable('d'.repeat(64))).toEqual({ reason: expect.stringMatching(/^created from an image id/) });
    expect(followable('Bad Name')).toEqual({ reason: expect.stringMatching(/whitespace/) });
  });
});

describe('ListingBuilder', () => {
  const ctx = { defaults: { notifyOn: ['update' as const], metadata: { env: 'prod' } }, notifierNames: [] };
  const found = (name: string, labels: Record<string, string>, extra: Partial<Parameters<ListingBuilder['add']>[0]> = {}) => ({
    name, id: `id-${name}`, image: 'registry.example.com/team/app:1', labels, platform: 'linux/amd64', runningDigest: D, ...extra,
  });

  it('gathers the containers of one image, applies defaults and labels, and skips what is not enabled', () => {
    const b = new ListingBuilder({ source: 'local', watchByDefault: false }, ctx);
    b.add(found('web-1', { 'herald.enable': 'true', 'herald.metadata.team': 'web' }));
    b.add(found('web-2', { 'herald.enable': 'true' }));
    b.add(found('quiet', {}));
    b.add(found('arm', { 'herald.enable': 'true' }, { platform: 'linux/arm64/v8' }));
    b.add(found('pinned', { 'herald.enable': 'true' }, { image: `registry.example.com/team/app@${D}` }));
    const { images, unwatched } = b.result();
    expect(images.map((i) => [i.ref.name, i.platform, i.containers?.map((c) => c.name)])).toEqual([
      ['registry.example.com/team/app:1', 'linux/amd64', ['web-1', 'web-2']],
      ['registry.example.com/team/app:1', 'linux/arm64/v8', ['arm']],
    ]);
    expect(images[0]).toMatchObject({ notifyOn: ['update'], metadata: { env: 'prod', team: 'web' }, sources: ['local'], source: 'source local' });
    expect(images[0]?.containers?.[0]).toEqual({ source: 'local', name: 'web-1', id: 'id-web-1', runningDigest: D });
    expect(unwatched).toEqual([{ container: 'pinned', image: `registry.example.com/team/app@${D}`, reason: expect.stringMatching(/^created from a digest/) }]);
  });

  it('watchByDefault takes every container but those labelled herald.enable=false', () => {
    const b = new ListingBuilder({ source: 'local', watchByDefault: true }, ctx);
    b.add(found('a', {}));
    b.add(found('b', { 'herald.enable': 'false' }));
    expect(b.result().images[0]?.containers?.map((c) => c.name)).toEqual(['a']);
  });

  it('a bad label makes its image a problem that names the container', () => {
    const b = new ListingBuilder({ source: 'local', watchByDefault: true }, ctx);
    b.add(found('web-1', { 'herald.maxTags': 'ten' }));
    expect(b.result().images[0]?.problem).toBe('container web-1: label herald.maxTags: "ten" is not a whole number');
  });
});
