import { createRequire } from 'node:module';

const requireHere = createRequire(import.meta.url);

/**
 * A package loaded on first use instead of at import, synchronously (callers such as config
 * checks are synchronous), and kept once loaded. Start-up is what this buys: `herald check` with
 * no notifiers or schedule should not pay for undici, liquidjs, node-cron or semver (tens of ms
 * each). Only for packages in node_modules: the CLI bundle leaves them out (scripts/build.mjs).
 */
export function lazy<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= requireHere(name) as T);
}
