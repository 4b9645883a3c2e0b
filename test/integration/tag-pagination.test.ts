/**
 * Tag list pagination (RegistryClient.listTags): Link headers relative and absolute, a Link that loops,
 * a Link to another origin, the page cap, `tags: null`, and Nexus' full page without a Link. Against
 * a loopback fixture server (distribution 2.8 has no pagination), and once through the counting
 * proxy in front of a real token-auth registry to show one token serves the pages and the HEADs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RegistryError } from '../../src/util/errors.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/client.js';
import { parseReference } from '../../src/model/reference.js';
import { nextLink } from '../../src/registry/tags.js';
import { startTagListServer, type TagListServer } from '../fixtures/tag-list-server.js';
import { startRegistry, type TestRegistry } from '../../fixtures/registry.js';
import { startCountingProxy, type CountingProxy } from '../../fixtures/proxy.js';

const tagsOf = (count: number): string[] => Array.from({ length: count }, (_, i) => `1.0.${i}`);

function capture(): { logger: pino.Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('listing tags page by page', () => {
  let srv: TagListServer;
  let other: TagListServer;
  const clients: RegistryClient[] = [];
  const client = (s: TagListServer, opts: RegistryClientOptions = {}): RegistryClient => {
    const c = new RegistryClient({ registries: [{ name: 'fixture', host: s.host, insecure: true, timeout: 3_000 }], dockerConfigPath: '/nonexistent/config.json', retries: 0, ...opts });
    clients.push(c);
    return c;
  };
  const list = (s: TagListServer, opts: RegistryClientOptions = {}) => client(s, opts).listTags(parseReference(`${s.host}/team/app:1.0.0`));

  beforeAll(async () => {
    srv = await startTagListServer();
    other = await startTagListServer(['evil']);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    srv.requests.length = 0;
    other.requests.length = 0;
    srv.link = (ctx) => (ctx.next === undefined ? undefined : `<${ctx.next}>; rel="next"`);
    srv.honourLast = true;
  });
  afterAll(async () => {
    await srv.close();
    await other.close();
  });

  it('asks for 1000 tags a page and follows relative Link headers to the end', async () => {
    srv.tags = tagsOf(2500);
    const listing = await list(srv);
    expect(listing).toEqual({ tags: tagsOf(2500), complete: true, pages: 3 });
    expect(srv.requests).toEqual(['/v2/', '/v2/team/app/tags/list?n=1000', '/v2/team/app/tags/list?n=1000&last=1.0.999', '/v2/team/app/tags/list?n=1000&last=1.0.1999']);
  });

  it('follows absolute same-origin links, and picks rel="next" among several', async () => {
    srv.tags = tagsOf(25);
    srv.link = (ctx) => (ctx.next === undefined ? undefined : `<${ctx.origin}/v2/team/app/tags/list?n=10>; rel="first", <${ctx.origin}${ctx.next}>; rel=next; title="more"`);
    const listing = await list(srv, { tagPageSize: 10 });
    expect(listing).toEqual({ tags: tagsOf(25), complete: true, pages: 3 });
  });

  it('resolves a link relative to the page it came with (query-only link)', async () => {
    srv.tags = tagsOf(12);
    srv.link = (ctx) => (ctx.next === undefined ? undefined : `<${ctx.next.slice(ctx.next.indexOf('?'))}>; rel="next"`);
    expect(await list(srv, { tagPageSize: 5 })).toEqual({ tags: tagsOf(12), complete: true, pages: 3 });
  });

  it('stops, warns and marks the listing incomplete when a link loops back', async () => {
    srv.tags = tagsOf(30);
    srv.link = () => '</v2/team/app/tags/list?n=10>; rel="next"'; // always the first page
    const { logger, lines } = capture();
    const started = Date.now();
    const listing = await list(srv, { tagPageSize: 10, logger });
    expect(Date.now() - started).toBeLessThan(10_000); // it stops: a loop would never end
    expect(listing).toEqual({ tags: tagsOf(10), complete: false, pages: 1 });
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([`${srv.host}/team/app: tag list pagination loops back to tags already read; stopping after 1 pages`]);
  });

  it('stops when the next page repeats tags already read (a registry that ignores `last`)', async () => {
    srv.tags = tagsOf(30);
    srv.honourLast = false;
    const { logger, lines } = capture();
    const listing = await list(srv, { tagPageSize: 10, logger });
    expect(listing).toEqual({ tags: tagsOf(10), complete: false, pages: 2 });
    expect(lines.some((l) => l.level === 40 && /loops back/.test(l.msg))).toBe(true);
  });

  it('refuses a link to another origin with a one-line error, and sends it nothing', async () => {
    srv.tags = tagsOf(30);
    srv.link = () => `<${other.url}/v2/team/app/tags/list?n=10&last=x>; rel="next"`;
    const err = await list(srv, { tagPageSize: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as Error).message).toBe(`${srv.host}/team/app: the tag list's next-page link points to another origin (${other.url}); refusing to follow it`);
    expect(other.requests).toEqual([]);
  });

  it('caps the pages, warns, and marks the listing incomplete', async () => {
    srv.tags = tagsOf(100);
    const { logger, lines } = capture();
    const listing = await list(srv, { tagPageSize: 10, maxTagPages: 3, logger });
    expect(listing).toEqual({ tags: tagsOf(30), complete: false, pages: 3 });
    expect(lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([`${srv.host}/team/app: tag list has more than 3 pages; using the first 30 tags`]);
  });

  it('reads `tags: null` as no tags', async () => {
    srv.tags = null;
    expect(await list(srv)).toEqual({ tags: [], complete: true, pages: 1 });
  });

  it('asks for the next page after a full page without a Link header (Nexus), and stops on a short one', async () => {
    srv.tags = tagsOf(25);
    srv.link = () => undefined;
    expect(await list(srv, { tagPageSize: 10 })).toEqual({ tags: tagsOf(25), complete: true, pages: 3 });
    expect(srv.requests.slice(1)).toEqual(['/v2/team/app/tags/list?n=10', '/v2/team/app/tags/list?n=10&last=1.0.9', '/v2/team/app/tags/list?n=10&last=1.0.19']);
  });
});

describe('nextLink', () => {
  it.each<[string | undefined, string | undefined]>([
    [undefined, undefined],
    ['</v2/a/tags/list?n=2&last=b>; rel="next"', '/v2/a/tags/list?n=2&last=b'],
    ['<https://r.example/v2/a/tags/list?last=b>;rel=next', 'https://r.example/v2/a/tags/list?last=b'],
    ['<https://x/1>; rel="prev", <https://x/3>; rel="next"', 'https://x/3'],
    ['<https://x/3>; title="a, b"; rel="next last"', 'https://x/3'],
    ['<https://x/1>; rel="prev"', undefined],
    ['garbage', undefined],
  ])('%j → %j', (header, expected) => {
    expect(nextLink(header)).toBe(expected);
  });
});

describe('pagination through a proxy in front of a real token registry', () => {
  let registry: TestRegistry;
  let proxy: CountingProxy;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
    proxy = await startCountingProxy(registry.url);
    await Promise.all(['1.0.0', '1.1.0', 'latest'].map((t) => registry.pushImage('team/paged', t)));
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('follows a relative Link with the same token the HEADs use', async () => {
    // distribution 2.8 ignores n and last: the linked page repeats the tags, which ends the listing.
    proxy.setResponseHook((req, status, headers) => {
      if (status === 200 && /\/tags\/list\?n=1000$/.test(req.path)) headers.link = '</v2/team/paged/tags/list?n=1000&last=1.1.0>; rel="next"';
    });
    const c = new RegistryClient({
      registries: [{ name: 'reg', host: proxy.host, insecure: true, timeout: 5_000, username: registry.username!, password: registry.password! }],
      dockerConfigPath: '/nonexistent/config.json',
    });
    try {
      const ref = parseReference(`${proxy.host}/team/paged:1.0.0`);
      const listing = await c.listTags(ref);
      expect(listing.tags.sort()).toEqual(['1.0.0', '1.1.0', 'latest']);
      expect(listing.pages).toBe(2);
      await c.headManifest(ref);
      await c.headManifest(parseReference(`${proxy.host}/team/paged:1.1.0`));
      expect(proxy.log.filter((l) => l.kind === 'tags').map((l) => l.path)).toEqual(['/v2/team/paged/tags/list?n=1000', '/v2/team/paged/tags/list?n=1000&last=1.1.0']);
      expect(proxy.counts).toMatchObject({ tags: 2, head: 2, token: 0 });
      expect(registry.tokenServer!.requests.map((r) => r.scope)).toEqual([['repository:team/paged:pull']]);
    } finally {
      proxy.setResponseHook(undefined);
      await c.close();
    }
  });
});
