#!/usr/bin/env node
// Pushes a small random image to a plain-http registry, for trying herald without Docker:
//   node scripts/push-demo-image.mjs 127.0.0.1:5000/team/app:1.0
// Each call pushes new content under the tag, so the next `herald check` reports an update.
import { createHash, randomBytes } from 'node:crypto';

const ref = process.argv[2];
const m = ref && /^([^/]+)\/(.+):([\w][\w.-]*)$/.exec(ref);
if (!m) {
  console.error('usage: node scripts/push-demo-image.mjs HOST:PORT/REPOSITORY:TAG');
  process.exit(2);
}
const [, host, repo, tag] = m;
const base = `http://${host}/v2/${repo}`;
const digest = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function pushBlob(bytes) {
  const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
  const put = new URL(start.headers.get('location'), base);
  put.searchParams.set('digest', digest(bytes));
  const res = await fetch(put, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return { digest: digest(bytes), size: bytes.length };
}

const layer = Buffer.concat([randomBytes(64)]);
const config = Buffer.from(JSON.stringify({
  architecture: 'amd64', os: 'linux', created: new Date().toISOString(),
  config: { Labels: { 'org.opencontainers.image.source': 'https://example.com/demo' } },
  rootfs: { type: 'layers', diff_ids: [digest(layer)] },
}));
const l = await pushBlob(layer);
const c = await pushBlob(config);
const manifest = Buffer.from(JSON.stringify({
  schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...c },
  layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l }],
}));
const res = await fetch(`${base}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
if (res.status !== 201) throw new Error(`manifest: ${res.status} ${await res.text()}`);
console.log(`pushed ${ref} ${digest(manifest)}`);
