/**
 * The testbed's floor: the same N HEAD requests, C at a time, over keep-alive connections, with a
 * bare undici client and nothing else (no config, no auth, no state, no pool logic). Run in its own
 * process like the herald worker; prints the wall and CPU time of the last of three rounds as JSON
 * (or of the only round with rounds = 1: the whole-process comparison in bench/startup.ts).
 *   node floor-client.js <origin> <n> <c> [tokens.json] [rounds]
 * With tokens.json (an array; token k serves images 50k..50k+49, as herald's batched tokens do), each
 * request carries `Authorization: Bearer <token>`.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

async function main(): Promise<void> {
  const [origin, nArg, cArg, tokensFile, roundsArg] = process.argv.slice(2);
  const headers = tokensFile === undefined || tokensFile === '' ? [] : (JSON.parse(readFileSync(tokensFile, 'utf8')) as string[]).map((t) => ({ authorization: `Bearer ${t}` }));
  const n = Number(nArg);
  const c = Number(cArg);
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  let ms = 0;
  let cpuMs = 0;
  const rounds = roundsArg === undefined ? 3 : Number(roundsArg);
  for (let round = 0; round < rounds; round++) {
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (next < n) {
          const i = next++;
          const res = await request(`${origin}/v2/bench/app-${String(i).padStart(5, '0')}/manifests/1.0`, {
            method: 'HEAD',
            dispatcher: agent,
            reset: false,
            headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json', ...headers[Math.floor(i / 50)] },
          });
          if (res.statusCode !== 200) throw new Error(`HEAD ${i}: ${res.statusCode}`);
          await res.body.dump();
        }
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
