/**
 * The config's `registries` entries: which entry applies to an image, and what an entry's host
 * means. An entry's host is 'host[:port]' or 'host[:port]/path/prefix', with or without a scheme;
 * the longest prefix that an image's `registry/repository` starts with wins.
 */
import type { RegistryConfig } from '../config/schema.js';
import { normalizeRegistryHost } from '../model/reference.js';

/** Checks in flight per registry unless its entry sets `concurrency` (and never more than watch.workers). */
export const DEFAULT_REGISTRY_CONCURRENCY = 16;

/** 'https://corp.example.com:5000/team/' → 'corp.example.com:5000/team', hub aliases folded to docker.io. */
export function normalizeEntryHost(host: string): string {
  const noScheme = host.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/+$/, '');
  const slash = noScheme.indexOf('/');
  const hostPart = slash === -1 ? noScheme : noScheme.slice(0, slash);
  const path = slash === -1 ? '' : noScheme.slice(slash + 1).replace(/\/{2,}/g, '/');
  const normalized = normalizeRegistryHost(hostPart);
  return path ? `${normalized}/${path}` : normalized;
}

/** Each entry's normalized host, worked out once per entry object (matching runs for every repository). */
const entryKeys = new WeakMap<RegistryConfig, { host: string; key: string }>();
function entryKey(entry: RegistryConfig): string {
  const cached = entryKeys.get(entry);
  if (cached !== undefined && cached.host === entry.host) return cached.key;
  const key = normalizeEntryHost(entry.host);
  entryKeys.set(entry, { host: entry.host, key });
  return key;
}

/** The registries entry for an image: the longest host[/prefix] that `registry/repository` starts with. */
export function matchRegistryEntry(entries: readonly RegistryConfig[], registry: string, repository: string): RegistryConfig | undefined {
  const wanted = `${registry}/${repository}`;
  let best: RegistryConfig | undefined;
  let bestLength = -1;
  for (const entry of entries) {
    const key = entryKey(entry);
    if ((wanted === key || wanted.startsWith(`${key}/`)) && key.length > bestLength) {
      best = entry;
      bestLength = key.length;
    }
  }
  return best;
}

/**
 * Checks in flight at once per registry name ('docker.io', 'localhost:5000'). Concurrency is a
 * property of the server, not of a path prefix, so entries for several prefixes of one host share
 * the smallest `concurrency` among them. Hosts without one get min(workers, 16).
 */
export function registryConcurrency(entries: readonly RegistryConfig[], workers: number): (registry: string) => number {
  const byHost = new Map<string, number>();
  for (const entry of entries) {
    if (entry.concurrency === undefined) continue;
    const host = normalizeEntryHost(entry.host).split('/')[0] ?? '';
    byHost.set(host, Math.min(byHost.get(host) ?? Infinity, entry.concurrency));
  }
  const fallback = Math.min(workers, DEFAULT_REGISTRY_CONCURRENCY);
  return (registry) => byHost.get(registry) ?? fallback;
}

/** Whether a registries entry for this registry name sets `concurrency` (then it is a fixed bound). */
export function hasOwnConcurrency(entries: readonly RegistryConfig[]): (registry: string) => boolean {
  const hosts = new Set<string>();
  for (const entry of entries) if (entry.concurrency !== undefined) hosts.add(normalizeEntryHost(entry.host).split('/')[0] ?? '');
  return (registry) => hosts.has(registry);
}
