/**
 * The testbed's floor: the same N HEAD requests, C at a time, over keep-alive connections, with a
 * bare undici client and nothing else (no config, no auth, no state, no pool logic). Run in its own
 * process like the herald worker; prints the wall and CPU time of the last round as JSON (with rounds = 1,
 * the only round: the whole-process comparison in bench/startup.ts). tokens.json may be - or empty for none.
 *   node floor-client.js <origin> <n> <c> [tokens.json|-] [rounds] [tags]
 * With tokens.json (an array; token k serves images 50k..50k+49, as herald's batched tokens do), each
 * request carries `Authorization: Bearer <token>`. Rounds default to 3 (the last is reported). With
 * `tags`, each image costs two requests, its tags listing and its HEAD, as a watchRepo check does:
 * 2·N requests, C of them in flight.
 * With `dispatch` after the mode (`-` for HEADs only), it sends the way herald's transport does
 * (src/registry/exchange.ts: an agent's dispatch() with a plain handler, no body stream) and under
 * the V8 flags `herald check` sets (--liftoff-only --no-opt): what the same HTTP costs with nothing
 * of herald around it, the floor for herald's own CPU per image.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { Agent, request, type Dispatcher } from 'undici';

const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';

async function main(): Promise<void> {
  const [origin, nArg, cArg, tokensFile, roundsArg, mode, transport] = process.argv.slice(2);
  const viaDispatch = transport === 'dispatch';
  if (viaDispatch) setFlagsFromString('--liftoff-only --no-opt');
  const headers = tokensFile === undefined || tokensFile === '-' || tokensFile === '' ? [] : (JSON.parse(readFileSync(tokensFile, 'utf8')) as string[]).map((t) => ({ authorization: `Bearer ${t}` }));
  const n = Number(nArg);
  const c = Number(cArg);
  const rounds = roundsArg === undefined ? 3 : Number(roundsArg);
  const withTags = mode === 'tags';
  const total = withTags ? 2 * n : n;
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const one = async (k: number): Promise<void> => {
    const i = withTags ? k >> 1 : k;
    const repo = `bench/app-${String(i).padStart(5, '0')}`;
    const auth = headers[Math.floor(i / 50)];
    if (viaDispatch) {
      const tags = withTags && (k & 1) === 0;
      const path = tags ? `/v2/${repo}/tags/list?n=1000` : `/v2/${repo}/manifests/1.0`;
      const res = await dispatched(agent, origin!, tags ? 'GET' : 'HEAD', path, { accept: tags ? 'application/json' : ACCEPT, ...auth });
      if (res.status !== 200) throw new Error(`${tags ? 'tags' : 'HEAD'} ${i}: ${res.status}`);
      if (tags && !Array.isArray((JSON.parse(res.body.toString('utf8')) as { tags?: string[] }).tags)) throw new Error(`tags ${i}: no tags`);
      return;
    }
    if (withTags && (k & 1) === 0) {
      const res = await request(`${origin}/v2/${repo}/tags/list?n=1000`, { method: 'GET', dispatcher: agent, headers: { accept: 'application/json', ...auth } });
      if (res.statusCode !== 200) throw new Error(`tags ${i}: ${res.statusCode}`);
      const doc = (await res.body.json()) as { tags?: string[] };
      if (!Array.isArray(doc.tags)) throw new Error(`tags ${i}: no tags`);
      return;
    }
    const res = await request(`${origin}/v2/${repo}/manifests/1.0`, { method: 'HEAD', dispatcher: agent, reset: false, headers: { accept: ACCEPT, ...auth } });
    if (res.statusCode !== 200) throw new Error(`HEAD ${i}: ${res.statusCode}`);
    await res.body.dump();
  };
  let ms = 0;
  let cpuMs = 0;
  for (let round = 0; round < rounds; round++) {
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(c, total) }, async () => {
        while (next < total) await one(next++);
      }),
    );
    ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    cpuMs = (cpu.user + cpu.system) / 1000;
  }
  await agent.close();
  process.stdout.write(`${JSON.stringify({ ms, cpuMs })}\n`);
}

/** One exchange through dispatch() with a plain handler, the body read into a Buffer (as herald's exchange.ts). */
function dispatched(agent: Agent, origin: string, method: 'GET' | 'HEAD', path: string, headers: Record<string, string>): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      // Its presence is what tells undici this is a handler of the new (controller) kind.
      onRequestStart() {},
      onResponseStart(_c, statusCode) {
        status = statusCode;
      },
      onResponseData(_c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        resolve({ status, body: Buffer.concat(chunks) });
      },
      onResponseError(_c, err) {
        reject(err);
      },
    };
    agent.dispatch({ origin, path, method, headers, ...(method === 'HEAD' ? { reset: false } : {}) }, handler);
  });
}

void main();
