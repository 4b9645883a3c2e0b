/**
 * The dashboard's routes: GET / (the page's shell, no data in it) and its three assets under /ui/.
 * The shell says whether a token is needed (a meta tag), so the page asks for it before any request
 * instead of after a 401.
 * The page reads everything through the JSON API with the bearer token, so nothing served here needs
 * the token. Off (404, as any unknown path) when server.ui is false.
 *
 * The assets are plain files, read once from src/server/ui/ in a checkout, or from dist/ui/ where the
 * build copies them (the installed package and the container image carry dist/, not src/).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { packageRoot } from '../util/version.js';

/** Same-origin everything, nothing inline, no framing, no plugins, no forms leaving herald. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/** Path → file name and type. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
  '/ui/icon.svg': { file: 'icon.svg', type: 'image/svg+xml' },
};

export const DASHBOARD_PATHS: readonly string[] = Object.keys(ASSETS);

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Where the asset files are: the checkout's sources first (fresh while developing), else the build's copy. */
export function assetFolder(root = packageRoot): string {
  const candidates = [join(root, 'src', 'server', 'ui'), join(root, 'dist', 'ui')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[1]!;
}

const TOKEN_META = '<meta name="herald-token" content="none">';

let cache: Map<string, Asset> | undefined;

function assets(): Map<string, Asset> {
  if (cache === undefined) {
    const dir = assetFolder();
    const loaded = new Map<string, Asset>();
    const add = (path: string, body: Buffer, type: string): void => {
      loaded.set(path, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    };
    for (const [path, { file, type }] of Object.entries(ASSETS)) {
      const body = readFileSync(join(dir, file));
      add(path, body, type);
      if (path === '/') add('/ token', Buffer.from(body.toString('utf8').replace(TOKEN_META, TOKEN_META.replace('none', 'required'))), type);
    }
    cache = loaded;
  }
  return cache;
}

/** Answers GET (and HEAD) of one dashboard path: 200 with the file, or 304 when the browser has it. */
export function serveAsset(req: IncomingMessage, res: ServerResponse, path: string, tokenRequired: boolean): void {
  const asset = assets().get(path === '/' && tokenRequired ? '/ token' : path);
  if (asset === undefined) throw new Error(`no dashboard asset for ${path}`);
  const headers: Record<string, string | number> = {
    'content-type': asset.type,
    // Revalidated every time (cheap: an ETag), so a new herald version is seen at the next load.
    'cache-control': 'no-cache',
    etag: asset.etag,
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': asset.body.length });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}
