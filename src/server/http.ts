/**
 * herald's HTTP server (node:http; a few routes need no framework):
 *   GET  /             the dashboard's page, and its assets under /ui/ (dashboard.ts; off with server.ui: false)
 *   GET  /healthz      health, always open (a load balancer or HEALTHCHECK has no token)
 *   GET  /metrics      Prometheus text format
 *   GET  /api/images   stored state of every image, with the containers that run it (as `herald images list --json`),
 *                      its open deliveries, watchRepo's newest tag, and the watched images not checked yet (images-api.ts)
 *   GET  /api/events   recent events with their deliveries (as `herald events --json`), ?limit=1..1000
 *   GET  /api/repositories  the repositories watched with watchRepo (the dashboard's "newest tag")
 *   POST /api/check    start a run now (?image=REF: of that image only): 202, or 409 while one is going
 * With a token configured, /metrics and /api/* need `Authorization: Bearer <token>`. Answers are JSON
 * (except /metrics); an unknown path is 404, a known path with the wrong method 405 with Allow.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/log.js';
import type { Store } from '../store/index.js';
import { deliveryView } from '../store/deliveries.js';
import { errorMessage } from '../util/errors.js';
import { parseReference } from '../model/reference.js';
import { DASHBOARD_PATHS, serveAsset } from './dashboard.js';
import { apiImages, knownImage, type WatchedEntry } from './images-api.js';
import type { HealthReport } from './health.js';
import type { Metrics } from './metrics.js';

export interface ServerContext {
  store: Store;
  metrics: Metrics;
  logger: Logger;
  /** The bearer token in force (read per request, so a config reload changes it at once). */
  token(): string | undefined;
  /** Whether the dashboard is served (server.ui; read per request like the token). Absent: served. */
  ui?(): boolean;
  health(): HealthReport;
  /** The daemon's watch list (the last run's images, the config's before a run). Absent: stored states only. */
  watched?(): readonly WatchedEntry[];
  /** Starts a run (of one image, when given) unless one is going. */
  triggerRun(image?: string): 'started' | 'running' | 'stopping';
}

export interface HeraldServer {
  /** host:port actually bound (the port is real even when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

interface Route {
  methods: Record<string, Handler>;
  /** Needs the bearer token when one is configured. */
  guarded: boolean;
  /** Part of the dashboard: answered only while server.ui is on. */
  ui?: boolean;
}

export const MAX_EVENTS_LIMIT = 1000;

/** Splits "host:port" / "[v6]:port" (the schema already checked the shape). */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(i + 1)) };
}

export async function startServer(listen: string, ctx: ServerContext): Promise<HeraldServer> {
  const routes = buildRoutes(ctx);
  const server = createServer((req, res) => void handle(req, res, routes, ctx));
  // Small, slow clients cannot hold the process: bounded header and request times.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  const { host, port } = parseListen(listen);
  await listenOn(server, host, port);
  const bound = server.address() as AddressInfo;
  const address = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  ctx.logger.info({ address }, `HTTP server listening on ${address}`);
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EADDRNOTAVAIL' ? 'no such local address' : err.code === 'EACCES' ? 'permission denied' : errorMessage(err);
      reject(new ListenError(`server.listen: cannot listen on ${host}:${port}: ${why}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export class ListenError extends Error {}

function buildRoutes(ctx: ServerContext): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const path of DASHBOARD_PATHS) routes.set(path, { guarded: false, ui: true, methods: { GET: (req, res) => serveAsset(req, res, path, (ctx.token() ?? '') !== '') } });
  routes.set('/healthz', {
    guarded: false,
    methods: {
      GET: (_req, res) => {
        const report = ctx.health();
        sendJson(res, report.status === 'unhealthy' ? 503 : 200, report);
      },
    },
  });
  routes.set('/metrics', {
    guarded: true,
    methods: {
      GET: async (_req, res) => {
        const { contentType, body } = await ctx.metrics.render();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
    },
  });
  routes.set('/api/images', {
    guarded: true,
    methods: { GET: (_req, res) => sendJson(res, 200, apiImages(ctx.store, ctx.watched?.())) },
  });
  routes.set('/api/events', {
    guarded: true,
    methods: {
      GET: (_req, res, url) => {
        const raw = url.searchParams.get('limit') ?? '20';
        const limit = /^\d+$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS_LIMIT) {
          sendJson(res, 400, { error: `limit must be an integer from 1 to ${MAX_EVENTS_LIMIT}` });
          return;
        }
        const events = ctx.store.events.recent(limit).map((e) => ({ ...e, deliveries: ctx.store.deliveries.forEvent(e.id).map((d) => deliveryView(d)) }));
        sendJson(res, 200, events);
      },
    },
  });
  routes.set('/api/repositories', {
    guarded: true,
    methods: { GET: (_req, res) => sendJson(res, 200, ctx.store.repositories.repositories()) },
  });
  routes.set('/api/check', {
    guarded: true,
    methods: {
      POST: (_req, res, url) => {
        const raw = url.searchParams.get('image');
        let image: string | undefined;
        if (raw !== null) {
          try {
            image = parseReference(raw).name;
          } catch (err) {
            sendJson(res, 400, { error: `image: ${errorMessage(err)}` });
            return;
          }
          // The images `check --image` finds (one herald has checked: a state), and those on the watch list.
          if (!knownImage(ctx.store, ctx.watched?.() ?? [], image)) {
            sendJson(res, 404, { error: `image ${image.slice(0, 300)} has no stored state; POST /api/check without ?image runs every image` });
            return;
          }
        }
        const outcome = ctx.triggerRun(image);
        if (outcome === 'started') sendJson(res, 202, { status: 'accepted', message: image === undefined ? 'run started' : `check of ${image} started`, ...(image !== undefined ? { image } : {}) });
        else if (outcome === 'running') sendJson(res, 409, { error: 'a run is already in progress' });
        else sendJson(res, 503, { error: 'herald is stopping' });
      },
    },
  });
  return routes;
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: Map<string, Route>, ctx: ServerContext): Promise<void> {
  // Bodies are never used: read and drop them so keep-alive connections stay usable.
  req.resume();
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://herald.invalid');
  } catch {
    sendJson(res, 400, { error: 'bad request target' });
    return;
  }
  res.setHeader('x-content-type-options', 'nosniff');
  const found = routes.get(url.pathname);
  const route = found?.ui === true && ctx.ui?.() === false ? undefined : found;
  if (route === undefined) {
    sendJson(res, 404, { error: `no such endpoint: ${url.pathname.slice(0, 200)}` });
    return;
  }
  const method = req.method === 'HEAD' && route.methods.GET ? 'GET' : (req.method ?? '');
  const handler = route.methods[method];
  if (handler === undefined) {
    const allow = Object.keys(route.methods);
    if (allow.includes('GET')) allow.push('HEAD');
    res.setHeader('allow', allow.join(', '));
    sendJson(res, 405, { error: `method ${String(req.method).slice(0, 20)} not allowed on ${url.pathname}; use ${allow.join(' or ')}` });
    return;
  }
  if (route.guarded && !authorized(req, ctx.token())) {
    ctx.logger.debug({ path: url.pathname, remote: req.socket.remoteAddress }, 'HTTP request without a valid token');
    res.setHeader('www-authenticate', 'Bearer realm="herald"');
    sendJson(res, 401, { error: 'missing or invalid bearer token' });
    return;
  }
  try {
    await handler(req, res, url);
  } catch (err) {
    ctx.logger.error({ err, path: url.pathname }, `HTTP ${req.method} ${url.pathname} failed: ${errorMessage(err)}`);
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error; see the log' });
    else res.destroy();
  }
}

/**
 * The presented token against the configured one, in constant time: both are hashed first, so the
 * comparison is over equal-length digests and neither the content nor the length leaks through timing.
 */
export function authorized(req: IncomingMessage, expected: string | undefined): boolean {
  if (expected === undefined || expected === '') return true;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const given = match?.[1] ?? '';
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b) && match !== null;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  // Compact: /api/images with 5000 images is 3.4 MB indented and about 2 MB without, and the
  // dashboard waits for all of it. (`herald images list --json` indents for people.)
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
