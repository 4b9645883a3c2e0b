/**
 * One check's result → the next state, whether only the check time changed, and the event
 * (src/watch/reconcile.ts). Outcomes are written as checkImage and errorOutcome return them.
 */
import { describe, expect, it } from 'vitest';
import type { WatchedImage } from '../../../src/model/image.js';
import { parseReference, withTag } from '../../../src/model/reference.js';
import type { ImageState } from '../../../src/model/state.js';
import { errorOutcome, type CheckOutcome } from '../../../src/watch/check.js';
import type { CheckItem } from '../../../src/watch/expand.js';
import { reconcile } from '../../../src/watch/reconcile.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const P1 = `sha256:${'a'.repeat(64)}`;
const P2 = `sha256:${'b'.repeat(64)}`;
const INDEX = 'application/vnd.oci.image.index.v1+json';
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';
const T2 = '2026-01-03T00:00:00.000Z';
const id = () => 'event-1';

function image(name: string, extra: Partial<WatchedImage> = {}): WatchedImage {
  return {
    name, ref: parseReference(name), platform: 'linux/amd64', notifyOn: ['new', 'update'], metadata: { team: 'web' },
    watchRepo: false, includeTags: [], excludeTags: [], sortTags: 'default', maxTags: 0, newerOnly: false,
    sameFlavour: true, includePrereleases: false, source: 'test.yml:1', ...extra,
  };
}

function item(name = 'registry.example.com/team/app:1.0', extra: Partial<WatchedImage> = {}): CheckItem {
  const watched = image(name, extra);
  return { image: watched, owner: watched };
}

/** A tag found by watchRepo: the owner's settings with the tag's reference. */
function expandedItem(ownerName: string, tag: string, expanded: NonNullable<CheckItem['expanded']>, extra: Partial<WatchedImage> = {}): CheckItem {
  const owner = image(ownerName, { watchRepo: true, ...extra });
  const ref = withTag(owner.ref, tag);
  return { image: { ...owner, name: ref.name, ref }, owner, expanded };
}

function known(extra: Partial<ImageState> = {}): ImageState {
  return {
    image: 'registry.example.com/team/app:1.0', platform: 'linux/amd64', digest: D1, mediaType: INDEX, platformDigest: P1,
    created: '2025-12-01T00:00:00Z', labels: { version: '1.0' }, firstSeen: T0, lastChecked: T0, lastChanged: T0, error: null, errorSince: null, outdatedDigest: null, sources: ['config'],
    ...extra,
  };
}

function outcome(status: CheckOutcome['status'], extra: Partial<CheckOutcome> = {}): CheckOutcome {
  return {
    status, firstCheck: false, digest: D1, previousDigest: D1, mediaType: INDEX, platformDigest: P1, previousPlatformDigest: P1,
    created: '2025-12-01T00:00:00Z', labels: { version: '1.0' }, error: null, ...extra,
  };
}

/** What checkImage returns for an unchanged tag: the previous state's values. */
function unchanged(prev: ImageState): CheckOutcome {
  return outcome('unchanged', {
    digest: prev.digest, previousDigest: prev.digest, mediaType: prev.mediaType, platformDigest: prev.platformDigest,
    previousPlatformDigest: prev.platformDigest, created: prev.created, labels: prev.labels ?? {},
  });
}

describe('reconcile', () => {
  it('first sighting: a new state and a `new` event', () => {
    const first = outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null });
    const r = reconcile(item(), first, undefined, T1, id);
    expect(r.state).toEqual({
      image: 'registry.example.com/team/app:1.0', platform: 'linux/amd64', digest: D1, mediaType: INDEX, platformDigest: P1,
      created: '2025-12-01T00:00:00Z', labels: { version: '1.0' }, firstSeen: T1, lastChecked: T1, lastChanged: T1, error: null, errorSince: null, outdatedDigest: null, sources: ['config'],
    });
    expect(r.onlyCheckTime).toBe(false);
    expect(r.firstCheck).toBe(true);
    expect(r.event).toEqual({
      id: 'event-1', status: 'new', image: 'registry.example.com/team/app:1.0', registry: 'registry.example.com', repository: 'team/app',
      tag: '1.0', digest: D1, previousDigest: null, platform: 'linux/amd64', platformDigest: P1, previousPlatformDigest: null,
      mediaType: INDEX, created: '2025-12-01T00:00:00Z', labels: { version: '1.0' }, hubLink: null, metadata: { team: 'web' },
      detectedAt: T1, error: null,
    });
  });

  it('unchanged: only the check time moves, no event, the stored labels kept as they are', () => {
    const prev = known();
    const r = reconcile(item(), unchanged(prev), prev, T1, id);
    expect(r.state).toEqual({ ...prev, lastChecked: T1 });
    expect(r.state.labels).toBe(prev.labels);
    expect(r.onlyCheckTime).toBe(true);
    expect(r.event).toBeUndefined();
  });

  it('a rebuilt index with the same platform manifest: the new digest is stored, but nothing changed for the user', () => {
    const prev = known();
    const r = reconcile(item(), { ...unchanged(prev), digest: D2 }, prev, T1, id);
    expect(r.state).toMatchObject({ digest: D2, platformDigest: P1, lastChanged: T0, lastChecked: T1 });
    expect(r.onlyCheckTime).toBe(false);
    expect(r.event).toBeUndefined();
  });

  it('update: lastChanged moves, the event carries both digests of the image and of the platform', () => {
    const prev = known();
    const changed = outcome('update', { digest: D2, platformDigest: P2, created: '2026-01-01T12:00:00Z', labels: { version: '1.1' } });
    const r = reconcile(item(), changed, prev, T1, id);
    expect(r.state).toEqual({
      ...prev, digest: D2, platformDigest: P2, created: '2026-01-01T12:00:00Z', labels: { version: '1.1' }, lastChecked: T1, lastChanged: T1,
    });
    expect(r.onlyCheckTime).toBe(false);
    expect(r.firstCheck).toBe(false);
    expect(r.event).toMatchObject({ status: 'update', digest: D2, previousDigest: D1, platformDigest: P2, previousPlatformDigest: P1, labels: { version: '1.1' } });
  });

  it('error on a known image: digests kept, errorSince set once, and one event for the whole failure', () => {
    const prev = known();
    const first = reconcile(item(), errorOutcome('registry.example.com/team/app:1.0: connection refused', prev), prev, T1, id);
    expect(first.state).toEqual({ ...prev, lastChecked: T1, error: 'registry.example.com/team/app:1.0: connection refused', errorSince: T1 });
    expect(first.onlyCheckTime).toBe(false);
    expect(first.event).toMatchObject({ status: 'error', digest: D1, previousDigest: null, platformDigest: P1, previousPlatformDigest: null, error: 'registry.example.com/team/app:1.0: connection refused' });

    const second = reconcile(item(), errorOutcome('registry.example.com/team/app:1.0: timed out after 15s', first.state), first.state, T2, id);
    expect(second.state).toEqual({ ...first.state, lastChecked: T2, error: 'registry.example.com/team/app:1.0: timed out after 15s' });
    expect(second.state.errorSince).toBe(T1);
    expect(second.event).toBeUndefined();

    // The same error again changes nothing but the check time.
    const third = reconcile(item(), errorOutcome('registry.example.com/team/app:1.0: timed out after 15s', second.state), second.state, T2, id);
    expect(third.onlyCheckTime).toBe(true);
    expect(third.event).toBeUndefined();
  });

  it('error on a never-seen image: a state without digests, and an error event', () => {
    const r = reconcile(item(), errorOutcome('registry.example.com/team/app:1.0: manifest unknown (404)', undefined), undefined, T1, id);
    expect(r.state).toEqual({
      image: 'registry.example.com/team/app:1.0', platform: 'linux/amd64', digest: null, mediaType: null, platformDigest: null,
      created: null, labels: null, firstSeen: T1, lastChecked: T1, lastChanged: null, error: 'registry.example.com/team/app:1.0: manifest unknown (404)', errorSince: T1, outdatedDigest: null, sources: ['config'],
    });
    expect(r.onlyCheckTime).toBe(false);
    expect(r.event).toMatchObject({ status: 'error', digest: null, previousDigest: null, error: 'registry.example.com/team/app:1.0: manifest unknown (404)' });
  });

  it('recovery: the error is cleared without an event when the image did not change meanwhile', () => {
    const prev = known({ lastChecked: T1, error: 'boom', errorSince: T1 });
    const r = reconcile(item(), unchanged(prev), prev, T2, id);
    expect(r.state).toEqual({ ...prev, lastChecked: T2, error: null, errorSince: null });
    expect(r.onlyCheckTime).toBe(false);
    expect(r.event).toBeUndefined();
  });

  it('recovery of an image never seen before: its first digest is a `new` event, firstSeen stays', () => {
    const prev = reconcile(item(), errorOutcome('boom', undefined), undefined, T1, id).state;
    const r = reconcile(item(), outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null }), prev, T2, id);
    expect(r.state).toMatchObject({ digest: D1, firstSeen: T1, lastChanged: T2, error: null, errorSince: null });
    expect(r.event?.status).toBe('new');
  });

  it('an expanded newerOnly tag: the event carries the owner’s tag as currentTag', () => {
    const tagged = expandedItem('nginx:1.26.0', '1.27.0', { appeared: true, currentTag: '1.26.0' }, { newerOnly: true });
    const r = reconcile(tagged, outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null }), undefined, T1, id);
    expect(r.event).toMatchObject({ image: 'docker.io/library/nginx:1.27.0', tag: '1.27.0', currentTag: '1.26.0' });
    // A tag that appeared after the repository's first listing is news, not a first sighting.
    expect(r.firstCheck).toBe(false);

    const plain = reconcile(item(), outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null }), undefined, T1, id);
    expect(plain.event).not.toHaveProperty('currentTag');
  });

  it('an expanded tag from the first listing of its repository counts as a first sighting', () => {
    const tagged = expandedItem('nginx:1.26.0', '1.25.0', { appeared: false });
    const r = reconcile(tagged, outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null }), undefined, T1, id);
    expect(r.firstCheck).toBe(true);
  });

  it('hubLink: the configured one, else the registry’s page for the image, else null', () => {
    const first = outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null });
    expect(reconcile(item('nginx:1.27'), first, undefined, T1, id).event?.hubLink).toBe('https://hub.docker.com/_/nginx');
    expect(reconcile(item('ghcr.io/acme/api:2'), first, undefined, T1, id).event?.hubLink).toBe('https://ghcr.io/acme/api');
    expect(reconcile(item('nginx:1.27', { hubLink: 'https://example.com/nginx' }), first, undefined, T1, id).event?.hubLink).toBe('https://example.com/nginx');
    expect(reconcile(item(), first, undefined, T1, id).event?.hubLink).toBeNull();
  });

  it('makes a fresh event id for every event unless given a maker', () => {
    const first = outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null });
    const a = reconcile(item(), first, undefined, T1).event!.id;
    const b = reconcile(item(), first, undefined, T1).event!.id;
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });
});

describe('reconcile: images that containers run', () => {
  const D0 = `sha256:${'0'.repeat(64)}`;
  const container = (name: string, runningDigest: string | null) => ({ source: 'local', name, id: `id-${name}`, runningDigest });
  const running = (...containers: ReturnType<typeof container>[]) => item(undefined, { sources: ['local'], containers });

  it('a container already behind on the first check: one `update` naming it, its running digest and the registry\'s', () => {
    const first = outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null });
    const r = reconcile(running(container('web-1', D0), container('web-2', D1)), first, undefined, T1, id);
    expect(r.event).toMatchObject({ status: 'update', digest: D1, runningDigest: D0 });
    expect(r.event?.containers).toEqual([
      { source: 'local', name: 'web-1', id: 'id-web-1', runningDigest: D0, outdated: true },
      { source: 'local', name: 'web-2', id: 'id-web-2', runningDigest: D1, outdated: false },
    ]);
    expect(r.state).toMatchObject({ digest: D1, outdatedDigest: D1, sources: ['local'] });
  });

  it('reported once per registry digest: the next runs say nothing while the container stays behind', () => {
    const prev = known({ outdatedDigest: D1, sources: ['local'] });
    const r = reconcile(running(container('web-1', D0)), unchanged(prev), prev, T1, id);
    expect(r.event).toBeUndefined();
    expect(r.onlyCheckTime).toBe(true);
  });

  it('the tag moves while the container still runs an older digest: another `update`, for the new digest', () => {
    const prev = known({ outdatedDigest: D1, sources: ['local'] });
    const moved = outcome('update', { digest: D2, platformDigest: P2 });
    const r = reconcile(running(container('web-1', D0)), moved, prev, T1, id);
    expect(r.event).toMatchObject({ status: 'update', digest: D2, previousDigest: D1, runningDigest: D0 });
    expect(r.state.outdatedDigest).toBe(D2);
  });

  it('a container that runs the platform manifest is up to date, not behind', () => {
    const prev = known({ sources: ['local'] });
    const r = reconcile(running(container('web-1', P1)), unchanged(prev), prev, T1, id);
    expect(r.event).toBeUndefined();
  });

  it('a container recreated on the current digest is quietly up to date again', () => {
    const prev = known({ outdatedDigest: D1, sources: ['local'] });
    const r = reconcile(running(container('web-1', D1)), unchanged(prev), prev, T1, id);
    expect(r.event).toBeUndefined();
    expect(r.state.outdatedDigest).toBe(D1);
  });

  it('a moved tag that every container already runs is no news for a source image, but is for a config image', () => {
    const prev = known({ sources: ['local'] });
    const moved = outcome('update', { digest: D2, platformDigest: P2 });
    expect(reconcile(running(container('web-1', D2)), moved, prev, T1, id).event).toBeUndefined();
    const both = item(undefined, { sources: ['config', 'local'], containers: [container('web-1', D2)] });
    expect(reconcile(both, moved, prev, T1, id).event).toMatchObject({ status: 'update', digest: D2, runningDigest: D2 });
  });

  it('an up-to-date first sighting is `new`, with its containers', () => {
    const first = outcome('new', { firstCheck: true, previousDigest: null, previousPlatformDigest: null });
    const r = reconcile(running(container('web-1', D1)), first, undefined, T1, id);
    expect(r.event).toMatchObject({ status: 'new', runningDigest: D1, containers: [{ name: 'web-1', outdated: false }] });
    expect(r.firstCheck).toBe(true);
  });

  it('containers whose engine knows no running digest are watched like a config image', () => {
    const prev = known({ sources: ['local'] });
    const moved = outcome('update', { digest: D2, platformDigest: P2 });
    const r = reconcile(running(container('built-here', null)), moved, prev, T1, id);
    expect(r.event).toMatchObject({ status: 'update', digest: D2 });
    expect(r.event?.containers).toBeUndefined();
  });

  it('a failing check is an `error`, and says nothing about containers being behind', () => {
    const prev = known({ sources: ['local'] });
    const failed = errorOutcome('boom', prev);
    const r = reconcile(running(container('web-1', D0)), failed, prev, T1, id);
    expect(r.event).toMatchObject({ status: 'error', error: 'boom' });
    expect(r.state.outdatedDigest).toBe(null);
  });
});
