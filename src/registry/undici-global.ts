/**
 * Import this before the first `import … from 'undici'` in the process.
 *
 * When the npm undici package loads and no process-wide dispatcher exists yet, it installs its own
 * Agent as the global one — and Node 20's built-in fetch (bundled undici 6) then sends every
 * request through undici 7, which rejects some of them ("invalid content-length header"). Starting
 * the built-in fetch once first makes Node install its own Agent, so global fetch keeps working.
 * herald passes an explicit dispatcher on every undici request and never relies on the global one.
 */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

if ((globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER] === undefined && typeof globalThis.fetch === 'function') {
  // A data: URL needs no network; the call alone loads Node's fetch and its dispatcher.
  globalThis.fetch('data:,').then((r) => r.arrayBuffer(), () => undefined).catch(() => undefined);
}

export {};
