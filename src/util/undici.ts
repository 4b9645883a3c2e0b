import type { Agent, Dispatcher } from 'undici';
import { setFlagsFromString } from 'node:v8';
import { lazy } from './lazy.js';

/** The two parts of undici herald sends requests with. */
export interface HttpClientParts {
  Agent: typeof Agent;
  /** undici's `request(url, options)`, with `options.dispatcher` required. */
  request(url: URL, options: Dispatcher.RequestOptions extends infer O ? Omit<O, 'origin' | 'path'> & { dispatcher: Dispatcher } : never): Promise<Dispatcher.ResponseData>;
}

type RequestApi = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

const full = lazy<typeof import('undici')>('undici');
const agentModule = lazy<typeof Agent>('undici/lib/dispatcher/agent.js');
const requestModule = lazy<RequestApi>('undici/lib/api/api-request.js');

let parts: HttpClientParts | undefined;
let shortLived = false;

/**
 * Tells the transport this process ends after one run (`herald check`): when undici loads, V8's
 * optimizing compiler (TurboFan) is turned off along with Liftoff-only WebAssembly. A check of a few
 * hundred images lasts about a second, too short for TurboFan's compile work (on a second thread,
 * but CPU all the same) to pay back: measured on 300 unchanged images, CPU per image beyond start-up
 * 2.04 → 1.44 ms with watchRepo, 1.27 → 0.77 ms digest only (docs/BENCHMARKS.md). `serve` runs for
 * months and keeps TurboFan. Set in the same call as --liftoff-only: each change of V8's flags makes
 * Node compile the built-in modules it loads afterwards from source, so one change costs once.
 */
export function markShortLivedProcess(): void {
  shortLived = true;
}

/**
 * undici's Agent and request(), loaded on first use. Its index loads everything it has (fetch,
 * WebSocket, cookies, caches, mocks: ~100 files) where a request needs the agent and the request
 * API: loading only those two modules (and what they require) takes a third of the time, which
 * `herald check` pays at every start. Should a later undici move them, the whole package is loaded
 * instead, with the same behaviour.
 */
export function httpClient(): HttpClientParts {
  if (parts !== undefined) return parts;
  // undici parses HTTP with llhttp compiled to WebAssembly: on V8's baseline compiler only (Liftoff),
  // no TurboFan tier-up of it on another core mid-run, and ~30 MB less peak RSS (src/daemon/runtime.ts).
  // Set here, when the first request needs undici, because a V8 flag changed at run time makes Node
  // compile the built-in modules it loads afterwards from source: ~10 ms at start for every command.
  setFlagsFromString(shortLived ? '--liftoff-only --no-opt' : '--liftoff-only');
  try {
    const AgentClass = agentModule();
    const requestApi = requestModule();
    if (typeof AgentClass !== 'function' || typeof requestApi !== 'function') throw new Error('unexpected undici layout');
    parts = {
      Agent: AgentClass,
      // What undici's own request(url, options) does with a URL and a dispatcher.
      request: (url, options) =>
        requestApi.call(options.dispatcher, { ...options, origin: url.origin, path: url.search ? `${url.pathname}${url.search}` : url.pathname, method: options.method ?? 'GET' } as Dispatcher.RequestOptions),
    };
  } catch {
    const undici = full();
    parts = { Agent: undici.Agent, request: (url, options) => undici.request(url, options) };
  }
  return parts;
}
