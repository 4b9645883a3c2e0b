import type { Client } from 'undici';
import { setFlagsFromString } from 'node:v8';
import { lazy } from './lazy.js';

const full = lazy<typeof import('undici')>('undici');
const clientModule = lazy<typeof Client>('undici/lib/dispatcher/client.js');

let clientClass: typeof Client | undefined;
let shortLived = false;

/**
 * Tells the transport this process ends after one run (`herald check`): V8's optimizing compiler
 * (TurboFan) is turned off, along with Liftoff-only WebAssembly for undici. A check of a few hundred
 * images lasts about a second, too short for TurboFan's compile work (on a second thread, but CPU all
 * the same) to pay back: measured on 300 unchanged images, CPU per image beyond start-up 2.04 → 1.44
 * ms with watchRepo, 1.27 → 0.77 ms digest only (docs/BENCHMARKS.md). Set now, before the config is
 * loaded, not when undici loads: TurboFan otherwise compiles the config loader's hot functions (the
 * YAML parser, reference parsing) for a 300-image config, ~0.1 ms of CPU per image. `serve` runs for
 * months and keeps TurboFan. Set in the same call as --liftoff-only: each change of V8's flags makes
 * Node compile the built-in modules it loads afterwards from source, so one change costs once.
 */
export function markShortLivedProcess(): void {
  if (shortLived) return;
  shortLived = true;
  setFlagsFromString(SHORT_LIVED_FLAGS);
}

const SHORT_LIVED_FLAGS = '--liftoff-only --no-opt';

/**
 * undici's Client (one connection), loaded on first use: the registry transport keeps its own
 * connections (src/registry/connections.ts) and sends through a client's dispatch()
 * (src/registry/exchange.ts); it needs nothing else of undici. Its index loads everything it has
 * (fetch, WebSocket, cookies, caches, mocks: ~100 files); loading only the client module (and what it
 * requires) takes a fraction of the time, which `herald check` pays at every start. Should a later
 * undici move it, the whole package is loaded instead, with the same behaviour.
 */
export function undiciClient(): typeof Client {
  if (clientClass !== undefined) return clientClass;
  // undici parses HTTP with llhttp compiled to WebAssembly: on V8's baseline compiler only (Liftoff),
  // no TurboFan tier-up of it on another core mid-run, and ~30 MB less peak RSS (src/daemon/runtime.ts).
  // Set here, when the first request needs undici, because a V8 flag changed at run time makes Node
  // compile the built-in modules it loads afterwards from source: ~10 ms at start for every command.
  // A short-lived process set them already (markShortLivedProcess).
  if (!shortLived) setFlagsFromString('--liftoff-only');
  try {
    const loaded = clientModule();
    if (typeof loaded !== 'function') throw new Error('unexpected undici layout');
    clientClass = loaded;
  } catch {
    clientClass = full().Client;
  }
  return clientClass;
}
