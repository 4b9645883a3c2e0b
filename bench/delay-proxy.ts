/**
 * A TCP-level latency proxy for the benchmark: every chunk the client sends is forwarded after a
 * fixed delay, answers come back at once. herald speaks HTTP/1.1 without pipelining (one request in
 * flight per connection), so each request pays the delay exactly once, like a link with that
 * round-trip time. Requests are counted by kind from their request line (same kinds as the test
 * fixture's HTTP proxy), and accepted connections are counted too (keep-alive shows as few of them).
 *
 * Why not the HTTP proxy from fixtures/: parsing and re-sending every request costs ~0.5 ms of
 * CPU each, on the same two cores that docker-registry and herald use; at 800 requests a second
 * that alone took a third of a core away from what is measured. This one costs a few µs a request.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { classify, type RequestCounts } from '../fixtures/proxy.js';

export interface DelayProxy {
  host: string;
  url: string;
  counts: RequestCounts;
  connections: number;
  /** When the last answer bytes went back to a client (epoch ms, sub-ms precision); 0 before any. */
  lastAnswerAt: number;
  reset(): void;
  setDelay(ms: number): void;
  stop(): Promise<void>;
}

const REQUEST_LINE = /(?:^|\r\n)(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.[01]\r\n/g;

function zero(): RequestCounts {
  return { ping: 0, token: 0, head: 0, getManifest: 0, getBlob: 0, tags: 0, other: 0, total: 0 };
}

export async function startDelayProxy(target: string, delayMs: number): Promise<DelayProxy> {
  const to = new URL(target);
  let delay = delayMs;
  const sockets = new Set<Socket>();
  const proxy: DelayProxy = {
    host: '',
    url: '',
    counts: zero(),
    connections: 0,
    lastAnswerAt: 0,
    reset() {
      proxy.counts = zero();
      proxy.connections = 0;
    },
    setDelay(ms) {
      delay = ms;
    },
    stop() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };

  const count = (chunk: Buffer): void => {
    // Request heads are ASCII; only the start of a chunk can hold a request line that matters here.
    const text = chunk.toString('latin1', 0, Math.min(chunk.length, 4096));
    REQUEST_LINE.lastIndex = 0;
    for (let m = REQUEST_LINE.exec(text); m !== null; m = REQUEST_LINE.exec(text)) {
      proxy.counts[classify(m[1]!, m[2]!)]++;
      proxy.counts.total++;
    }
  };

  const server: Server = createServer((client) => {
    proxy.connections++;
    const upstream = connect(Number(to.port), to.hostname);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      count(chunk);
      // Equal delays fire in the order they were set, so a connection's bytes stay in order.
      if (delay > 0) setTimeout(() => upstream.write(chunk), delay);
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      proxy.lastAnswerAt = performance.timeOrigin + performance.now();
      client.write(chunk);
    });
    client.on('end', () => setTimeout(() => upstream.end(), delay));
    upstream.on('end', () => client.end());
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('delay proxy: no port');
  proxy.host = `127.0.0.1:${address.port}`;
  proxy.url = `http://${proxy.host}`;
  return proxy;
}
