/**
 * What watching what runs costs: a real `herald serve` whose images come from a source instead of
 * an `images:` list. 1000 containers over 100 images of the bench registry, on a Docker API stand-in
 * (fixtures/engine.ts: a unix socket answering the real JSON, counting requests) and on a Kubernetes
 * API stand-in (fixtures/kubernetes.ts: PodList pages over TLS). The figures: engine and cluster
 * requests per warm run, registry requests per warm run, and peak RSS beside the same serve with
 * the 100 images as a YAML list.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { engineFleet, startFakeEngine } from '../fixtures/engine.js';
import { startKubernetes } from '../fixtures/kubernetes.js';
import { benchImage, type World } from './world.js';
import type { ServeFigures, ServeVariant } from './run.js';

const IMAGES = 100;
const CONTAINERS = 1000;
/** A digest none of the bench images has: every container runs behind, so the first run reports them all. */
const OLD = `sha256:${'0'.repeat(64)}`;

export interface SourceFigures {
  /** Requests to the engine or cluster during the warm (second) run. */
  sourceRequests: Record<string, number>;
  serve: ServeFigures;
}

export interface SourcesFigures {
  containers: number;
  images: number;
  yaml: ServeFigures;
  docker: SourceFigures;
  kubernetes: SourceFigures;
}

type Serve = (world: World, n: number, dbPath: string, tmp: string, variant?: ServeVariant) => Promise<ServeFigures>;
type ConfigYaml = (world: World, n: number, dbPath: string, extra?: string[]) => string;

export async function measureSources(world: World, tmp: string, serve: Serve, configYaml: ConfigYaml): Promise<SourcesFigures> {
  await world.pushUpTo(IMAGES);
  const references = Array.from({ length: IMAGES }, (_, i) => {
    const img = benchImage(i);
    return `${world.proxy.host}/${img.repo}:${img.tag}`;
  });

  const yaml = await serve(world, IMAGES, join(tmp, 'sources-yaml.db'), tmp, { name: 'yaml' });

  const fleet = engineFleet({ images: references.map((reference) => ({ reference, digest: OLD })), containers: CONTAINERS });
  const engine = await startFakeEngine({ images: fleet.images, containers: fleet.containers });
  let docker: SourceFigures;
  try {
    const dockerServe = await serve(world, IMAGES, join(tmp, 'sources-docker.db'), tmp, {
      name: 'docker',
      config: (schedule) =>
        configYaml(world, 0, join(tmp, 'sources-docker.db'), schedule) +
        ['sources:', '  - name: engine', '    type: docker', `    endpoint: "${engine.endpoint}"`].join('\n') + '\n',
      onFirstRun: () => engine.reset(),
    });
    docker = { sourceRequests: { ...engine.counts }, serve: dockerServe };
  } finally {
    await engine.stop();
  }

  const cluster = await startKubernetes();
  let kubernetes: SourceFigures;
  try {
    cluster.tokens.set('bench-token', 'bench');
    for (let i = 0; i < CONTAINERS; i++) {
      const image = references[i % IMAGES]!;
      cluster.addPods({
        name: `app-${i}`,
        annotations: { 'herald.enable': 'true' },
        containers: [{ name: 'app', image, imageID: `${image.replace(/:[^/:]+$/, '')}@${OLD}` }],
      });
    }
    const kubeconfig = join(tmp, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1', kind: 'Config', 'current-context': 'bench',
        clusters: [{ name: 'bench', cluster: { server: cluster.url, 'certificate-authority-data': Buffer.from(cluster.pki.caPem).toString('base64') } }],
        users: [{ name: 'bench', user: { token: 'bench-token' } }],
        contexts: [{ name: 'bench', context: { cluster: 'bench', user: 'bench' } }],
      }),
    );
    let fromFirstRun = 0;
    const k8sServe = await serve(world, IMAGES, join(tmp, 'sources-k8s.db'), tmp, {
      name: 'kubernetes',
      config: (schedule) =>
        configYaml(world, 0, join(tmp, 'sources-k8s.db'), schedule) +
        ['sources:', '  - name: cluster', '    type: kubernetes', `    kubeconfig: "${kubeconfig}"`, '    watchByDefault: false'].join('\n') + '\n',
      onFirstRun: () => {
        fromFirstRun = cluster.requests.length;
      },
    });
    const warm = cluster.requests.slice(fromFirstRun);
    kubernetes = { sourceRequests: { pages: warm.length, listings: warm.filter((r) => r.continue === undefined).length }, serve: k8sServe };
  } finally {
    await cluster.stop();
  }
  return { containers: CONTAINERS, images: IMAGES, yaml, docker, kubernetes };
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

export function sourceLines(s: SourcesFigures): string[] {
  const d = s.docker;
  const k = s.kubernetes;
  return [
    `Sources, real serve, ${s.containers} containers over ${s.images} images (every container behind its tag, so the first run reports all ${s.images}):`,
    `- docker (Docker API stand-in on a unix socket): warm run ${d.serve.runsMs[1]} ms; engine requests ${Object.entries(d.sourceRequests).map(([kind, n]) => `${kind} ${n}`).join(', ')}; ` +
      `registry: HEAD ${d.serve.counts.head}, GET manifest ${d.serve.counts.getManifest}, GET blob ${d.serve.counts.getBlob}; peak RSS ${mb(d.serve.vmHwm)} MB`,
    `- kubernetes (API stand-in over TLS, pages of 500): warm run ${k.serve.runsMs[1]} ms; cluster requests: ${k.sourceRequests.pages} pages in ${k.sourceRequests.listings} listing; ` +
      `registry: HEAD ${k.serve.counts.head}, GET manifest ${k.serve.counts.getManifest}; peak RSS ${mb(k.serve.vmHwm)} MB`,
    `- the same ${s.images} images as a YAML list: warm run ${s.yaml.runsMs[1]} ms; peak RSS ${mb(s.yaml.vmHwm)} MB`,
  ];
}

export function sourceTargets(s: SourcesFigures | undefined, add: (target: string, measured: string, met: boolean | undefined) => void): void {
  const d = s?.docker;
  add(
    `docker source, ${CONTAINERS} containers over ${IMAGES} images, warm run: 1 engine listing, 0 inspects, ${IMAGES} HEADs`,
    d ? `listing ${d.sourceRequests.list}, image inspects ${d.sourceRequests.imageInspect}, container inspects ${d.sourceRequests.containerInspect}, HEAD ${d.serve.counts.head}, GETs ${d.serve.counts.getManifest + d.serve.counts.getBlob}` : '-',
    d ? d.sourceRequests.list === 1 && d.sourceRequests.imageInspect === 0 && d.sourceRequests.containerInspect === 0 && d.serve.counts.head === IMAGES && d.serve.counts.getManifest + d.serve.counts.getBlob === 0 : undefined,
  );
  const k = s?.kubernetes;
  add('kubernetes source: one paged listing per run', k ? `${k.sourceRequests.listings} listing in ${k.sourceRequests.pages} pages, HEAD ${k.serve.counts.head}` : '-', k ? k.sourceRequests.listings === 1 && k.serve.counts.head === IMAGES : undefined);
  const over = (f: SourceFigures) => (f.serve.vmHwm - s!.yaml.vmHwm) / 1024 / 1024;
  add(
    `memory with ${CONTAINERS} containers within 10 MB of the same run from a YAML list`,
    s ? `peak RSS docker ${mb(s.docker.serve.vmHwm)} MB, kubernetes ${mb(s.kubernetes.serve.vmHwm)} MB, YAML list ${mb(s.yaml.vmHwm)} MB (${over(s.docker).toFixed(1)} / ${over(s.kubernetes).toFixed(1)} MB more)` : '-',
    s ? over(s.docker) <= 10 && over(s.kubernetes) <= 10 : undefined,
  );
}
