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
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const ACCEPT = 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json';

async function main(): Promise<void> {
  const [origin, nArg, cArg, tokensFile, roundsArg, mode] = process.argv.slice(2);
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

void main();
