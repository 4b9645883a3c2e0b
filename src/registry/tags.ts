/**
 * Tag lists: `GET /v2/<repo>/tags/list` page by page, and the tags that are not versions of an image.
 *
 * Pagination follows the distribution spec: `?n=<page size>`, and a `Link: <url>; rel="next"` header
 * while there is more. The link may be relative (resolved against the URL of the page it came with);
 * a link to another origin is refused, since the registry's credentials would go with it. Pages are
 * capped, and a link back to a page already read stops the listing; both warn and mark the listing
 * incomplete, so nobody treats the tags it missed as deleted.
 */
import { RegistryError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { HttpResponse } from './http.js';
import { oneLine } from '../util/text.js';
import { statusError } from './status.js';

/** ECR rejects n > 1000; most registries accept it, and one page covers most repositories. */
export const TAG_PAGE_SIZE = 1000;
/** 100 pages of 1000: far beyond real repositories, short of a registry that links forever. */
export const MAX_TAG_PAGES = 100;

export interface TagListing {
  /** Every tag, each once, in the registry's order. */
  tags: string[];
  /** False when the listing stopped early (page cap, a link loop): tags missing from it may still exist. */
  complete: boolean;
  /** Requests made. */
  pages: number;
}

export interface TagPagesOptions {
  /** Path and query of the first page ('/v2/<repository>/tags/list?n=1000'), on `origin`. */
  first: string;
  /** Where the pages are; only links to this origin are followed. */
  origin: string;
  /** 'registry/repository', the start of every message. */
  subject: string;
  pageSize: number;
  maxPages: number;
  /** Path and query of a page on `origin`. */
  fetchPage: (path: string) => Promise<HttpResponse>;
  logger: Logger;
}

export async function readTagPages(opts: TagPagesOptions): Promise<TagListing> {
  const { subject, logger } = opts;
  const seen = new Set<string>();
  const visited = new Set<string>();
  let path = opts.first;
  let pages = 0;
  for (;;) {
    if (pages >= opts.maxPages) {
      logger.warn({ repository: subject, pages }, `${subject}: tag list has more than ${opts.maxPages} pages; using the first ${seen.size} tags`);
      return { tags: [...seen], complete: false, pages };
    }
    visited.add(path);
    const res = await opts.fetchPage(path);
    pages++;
    if (res.status !== 200) throw statusError(subject, res, 'tags');
    const pageTags = parseTagPage(res.body, subject);
    const before = seen.size;
    for (const tag of pageTags) seen.add(tag);
    const added = seen.size - before;

    const link = nextLink(res.headers.link);
    // The common case, one page and no link, needs no URL object at all.
    if (link === undefined && pageTags.length !== opts.pageSize) return { tags: [...seen], complete: true, pages };
    const url = new URL(path, opts.origin);
    let next: URL | undefined;
    if (link !== undefined) {
      try {
        next = new URL(link, url);
      } catch {
        throw new RegistryError(`${subject}: the tag list's next-page link "${oneLine(link, 100)}" is not a URL`);
      }
      if (next.origin !== opts.origin) {
        throw new RegistryError(`${subject}: the tag list's next-page link points to another origin (${next.origin}); refusing to follow it`);
      }
    } else if (added > 0 && url.searchParams.has('n')) {
      // Nexus drops the Link header when n is given: a full page may not be the last one.
      next = new URL(url);
      next.searchParams.set('last', pageTags[pageTags.length - 1]!);
    }
    if (next === undefined) return { tags: [...seen], complete: true, pages };
    const nextPath = `${next.pathname}${next.search}`;
    if (visited.has(nextPath) || (pages > 1 && added === 0 && pageTags.length > 0)) {
      logger.warn({ repository: subject, pages }, `${subject}: tag list pagination loops back to tags already read; stopping after ${pages} pages`);
      return { tags: [...seen], complete: false, pages };
    }
    path = nextPath;
  }
}

function parseTagPage(body: Buffer, subject: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RegistryError(`${subject}: tag list is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null) throw new RegistryError(`${subject}: malformed tag list`);
  const tags = (doc as { tags?: unknown }).tags;
  // An empty repository answers `"tags": null` (distribution) or leaves the key out.
  if (tags === null || tags === undefined) return [];
  if (!Array.isArray(tags)) throw new RegistryError(`${subject}: malformed tag list`);
  return tags.filter((t): t is string => typeof t === 'string');
}

/** The target of the `rel="next"` entry of a Link header (RFC 8288), as written. */
export function nextLink(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const m of header.matchAll(/<([^>]*)>((?:\s*;\s*[\w*-]+\s*(?:=\s*(?:"[^"]*"|[^;,]*))?)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]+))/i.exec(m[2] ?? '');
    const value = rel?.[1] ?? rel?.[2];
    if (value !== undefined && value.toLowerCase().split(/\s+/).includes('next')) return m[1]!.trim();
  }
  return undefined;
}
