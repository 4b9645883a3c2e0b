/**
 * Loaded with `node --import` by bench/startup.ts into both processes it compares (herald check and
 * the bare client): at exit, one JSON line on stderr ({"startupTrace": {...}}) with the process's
 * peak RSS (getrusage) and, with BENCH_STARTUP_TRACE=1, the phases of the run in ms since the process
 * started. It watches from outside: undici's diagnostics channels for the requests (herald's own
 * undici publishes on them), herald's performance marks (herald:…) for its phases, and Node's own
 * timing for its bootstrap. Nothing here changes what herald does.
 */
import { subscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

const phases: Record<string, number> = {};
const at = (name: string) => (phases[name] ??= performance.now());
let lastHead = 0;
let heads = 0;

interface UndiciRequest {
  method: string;
  path: string;
  origin?: string;
}

const tracing = process.env.BENCH_STARTUP_TRACE !== undefined;

if (tracing) subscribe('undici:request:create', (msg) => {
  const { request } = msg as { request: UndiciRequest };
  if (request.method === 'GET' && request.path === '/v2/') at('pingSent');
  else if (request.method === 'HEAD') at('firstHeadSent');
  else if (request.method === 'GET' && !request.path.startsWith('/v2/')) at('tokenSent');
});
if (tracing) subscribe('undici:request:headers', (msg) => {
  const { request } = msg as { request: UndiciRequest };
  if (request.method === 'GET' && request.path === '/v2/') at('pingAnswered');
  else if (request.method === 'HEAD') {
    at('firstHeadAnswered');
    lastHead = performance.now();
    heads++;
  } else if (request.method === 'GET' && !request.path.startsWith('/v2/')) at('tokenAnswered');
});

process.on('exit', () => {
  const maxRss = process.resourceUsage().maxRSS * 1024;
  if (!tracing) {
    process.stderr.write(`${JSON.stringify({ startupTrace: { maxRss } })}\n`);
    return;
  }
  const out: Record<string, number> = { bootstrapDone: performance.nodeTiming.bootstrapComplete };
  for (const m of performance.getEntriesByType('mark')) if (m.name.startsWith('herald:')) out[m.name.slice('herald:'.length)] = m.startTime;
  Object.assign(out, phases);
  if (lastHead > 0) out.lastHeadAnswered = lastHead;
  out.heads = heads;
  out.exit = performance.now();
  const sorted = Object.fromEntries(Object.entries(out).sort((a, b) => (a[0] === 'heads' ? 1 : b[0] === 'heads' ? -1 : a[1] - b[1])));
  process.stderr.write(`${JSON.stringify({ startupTrace: { ...sorted, maxRss } })}\n`);
});
