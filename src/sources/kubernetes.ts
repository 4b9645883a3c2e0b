/**
 * The Kubernetes source: the containers of a cluster's pods, listed over the REST API (paged pod
 * lists, cluster-wide or per namespace). Credentials: kubernetes-access.ts.
 *
 * What is listed, and why:
 * - pods in phase Running only (asked of the server with a field selector, and checked here).
 *   Pending pods run nothing yet or are still pulling, and the next run sees them; Succeeded and
 *   Failed pods (finished Jobs) run nothing any more; Unknown is a node that stopped answering.
 * - of those, the containers that run, or that wait to restart an image they already ran
 *   (CrashLoopBackOff: `state.waiting` with an imageID). A container without an imageID has not
 *   started (still pulling) and runs no digest; a terminated one has finished.
 * - init containers are skipped: they run to completion before the app starts. Native sidecars
 *   (init containers with `restartPolicy: Always`) keep running beside the app and are listed.
 *   Ephemeral containers (`kubectl debug`) are temporary and skipped.
 * Each container is `pod/container` with the pod's uid as id and its namespace; its settings are
 * the pod's annotations (`herald.enable`, …, the same names as Docker labels); the reference is
 * `spec.containers[].image`; the running digest is read from `status.containerStatuses[].imageID`.
 * The platform is not in the pod list (it would take one request per node): defaults apply.
 */
import { z } from 'zod';
import type { Logger } from '../util/log.js';
import { isDigest } from '../model/digest.js';
import { duration } from '../util/schema.js';
import { isPlainObject } from '../util/text.js';
import { KubeProblem, text } from './kubeconfig.js';
import { processEnvironment, resolveAccess, type ClusterAccess, type KubernetesEnvironment } from './kubernetes-access.js';
import { KubernetesApi } from './kubernetes-api.js';
import type { ExecCache } from './kubernetes-exec.js';
import { ListingBuilder, type FoundContainer } from './listing.js';
import { defineSource, SourceError, type ImageSource, type ListContext, type SourceContext, type SourceListing } from './source.js';

export const kubernetesSchema = z
  .object({
    name: z.string().min(1),
    type: z.literal('kubernetes'),
    kubeconfig: z.string().optional().describe('default: the in-cluster service account, else $KUBECONFIG'),
    context: z.string().min(1).optional().describe('a context of the kubeconfig (default: its current-context)'),
    namespaces: z.array(z.string().min(1)).min(1).optional().describe('default: every namespace the account may list'),
    watchByDefault: z.boolean().default(false).describe('false: only pods annotated herald.enable=true; true: all but herald.enable=false'),
    timeout: duration.prefault('15s'),
  })
  .strict();

export type KubernetesConfig = z.output<typeof kubernetesSchema>;

/** Pods per page: the API server's own recommendation for clients (kubectl asks 500 too). */
export const PAGE_SIZE = 500;
/** Pages per namespace (or per cluster) before herald gives up: 200,000 pods. */
export const MAX_PAGES = 400;

export const kubernetesSource = defineSource({
  schema: kubernetesSchema,
  create: (config, ctx) => createKubernetesSource(config, ctx),
});

/** `environment`: what the source reads from its process; tests pass a fake service account and env. */
export function createKubernetesSource(config: KubernetesConfig, ctx: SourceContext, environment: KubernetesEnvironment = processEnvironment()): ImageSource {
  const api = new KubernetesApi(config.timeout);
  const execCache: ExecCache = new Map();
  return {
    name: config.name,
    type: 'kubernetes',
    async list(listCtx: ListContext): Promise<SourceListing> {
      let secrets: string[] = [];
      try {
        const access = await resolveAccess({ kubeconfig: config.kubeconfig, context: config.context, dir: ctx.dir, timeoutMs: config.timeout, execCache }, environment);
        secrets = access.secrets;
        const builder = new ListingBuilder({ source: config.name, watchByDefault: config.watchByDefault, settings: 'annotation' }, listCtx);
        const scopes = config.namespaces === undefined ? [undefined] : [...new Set(config.namespaces)];
        for (const namespace of scopes) {
          for (const container of await listContainers(api, access, namespace, listCtx.signal, ctx.logger)) builder.add(container);
        }
        return builder.result();
      } catch (err) {
        if (!(err instanceof KubeProblem)) throw err;
        throw new SourceError(`source ${config.name}: ${hide(err.message, secrets)}`);
      }
    },
    close: () => api.close(),
  };
}

/** No message shows a token or password, even when a server or plugin repeats it back. */
function hide(message: string, secrets: readonly string[]): string {
  return secrets.filter((secret) => secret.length >= 4).reduce((text, secret) => text.split(secret).join('***'), message);
}

/**
 * The containers of the running pods of one namespace (or the cluster), following
 * `metadata.continue` until it is empty. A continue token that expired (410: the listing took longer
 * than the server keeps a consistent snapshot) restarts the listing once from the start.
 */
async function listContainers(api: KubernetesApi, access: ClusterAccess, namespace: string | undefined, signal: AbortSignal | undefined, logger: Logger): Promise<FoundContainer[]> {
  const apiPath = namespace === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  const scope = namespace === undefined ? 'the cluster' : `namespace ${namespace}`;
  let restarted = false;
  let found: FoundContainer[] = [];
  let token = '';
  for (let page = 0; ; page++) {
    if (page >= MAX_PAGES) throw new KubeProblem(`${scope} has more than ${MAX_PAGES * PAGE_SIZE} running pods (${MAX_PAGES} pages of ${PAGE_SIZE}); list fewer namespaces`);
    const query: Record<string, string> = { limit: String(PAGE_SIZE), fieldSelector: 'status.phase=Running', ...(token !== '' ? { continue: token } : {}) };
    let body: unknown;
    try {
      body = await api.getJson(access, apiPath, query, signal);
    } catch (err) {
      if (!(err instanceof KubeProblem) || err.status !== 410 || token === '' || restarted) throw err;
      restarted = true;
      found = [];
      token = '';
      page = -1;
      continue;
    }
    if (!isPlainObject(body) || body.kind !== 'PodList' || !Array.isArray(body.items)) throw new KubeProblem(`the answer for ${scope} is not a PodList`);
    // Kept as containers (small), not pods; handed on once the listing is whole, so a restart after
    // 410 does not count the first pages twice.
    for (const item of body.items) if (isPlainObject(item)) found.push(...containersOf(item, logger));
    const next = isPlainObject(body.metadata) ? (text(body.metadata.continue) ?? '') : '';
    if (next !== '' && next === token) throw new KubeProblem(`the server answered the same continue token twice for ${scope}`);
    token = next;
    if (token === '') break;
  }
  return found;
}

interface ContainerStatus {
  state?: Record<string, unknown>;
  imageID?: unknown;
}

function containersOf(pod: Record<string, unknown>, logger: Logger): FoundContainer[] {
  const metadata = isPlainObject(pod.metadata) ? pod.metadata : {};
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const status = isPlainObject(pod.status) ? pod.status : {};
  if (status.phase !== 'Running') return [];
  const podName = text(metadata.name);
  const uid = text(metadata.uid);
  const namespace = text(metadata.namespace);
  if (podName === undefined || uid === undefined) return [];
  const found: FoundContainer[] = [];
  const labels = annotations(metadata.annotations);
  const sidecars = list(spec.initContainers).filter((c) => c.restartPolicy === 'Always');
  const statuses = new Map<string, ContainerStatus>();
  for (const s of [...list(status.containerStatuses), ...list(status.initContainerStatuses)]) {
    const name = text(s.name);
    if (name !== undefined) statuses.set(name, s as ContainerStatus);
  }
  for (const container of [...list(spec.containers), ...sidecars]) {
    const name = text(container.name);
    const image = text(container.image);
    if (name === undefined || image === undefined) continue;
    const s = statuses.get(name);
    const imageID = text(s?.imageID);
    if (s === undefined || imageID === undefined) continue;
    const state = isPlainObject(s.state) ? s.state : {};
    if (state.running === undefined && state.waiting === undefined) continue;
    const digest = runningDigest(imageID);
    // An image id instead of a repository digest: the image was loaded onto the node, not pulled.
    if (digest === null) logger.debug({ namespace, pod: podName, container: name, imageID }, 'kubernetes: no manifest digest in imageID');
    found.push({ name: `${podName}/${name}`, id: uid, image, labels, runningDigest: digest, ...(namespace !== undefined ? { namespace } : {}) });
  }
  return found;
}

/**
 * The manifest digest in a container status' imageID:
 * - `docker.io/library/nginx@sha256:…` (containerd, CRI-O): the repository digest;
 * - `docker-pullable://nginx@sha256:…` (dockershim, Kubernetes before 1.24): the same;
 * - `sha256:…` or `docker://sha256:…`: an image id (the config's digest, for an image loaded into
 *   the node and never pulled): no manifest digest, null.
 */
export function runningDigest(imageID: string): string | null {
  const at = imageID.lastIndexOf('@');
  if (at < 0) return null;
  const digest = imageID.slice(at + 1);
  return isDigest(digest) ? digest : null;
}

/** Pod annotations are strings by the API's schema; anything else is not a setting. */
function annotations(value: unknown): Record<string, string> {
  if (!isPlainObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isPlainObject) : [];
}
