/**
 * The Docker source: the containers of a Docker Engine API (Docker, or Podman's compatible service).
 *
 * Cost per run: one `GET /containers/json`; `GET /images/{id}/json` only for an image id this source
 * has not seen; `GET /containers/{id}/json` only for a container the listing names by image id
 * (see referenceOf). Both caches live as long as the source and keep only what the last listing
 * still showed, so a warm run is one request.
 */
import { z } from 'zod';
import { parseReference } from '../model/reference.js';
import { duration } from '../util/schema.js';
import { EngineClient, resolveEndpoint, type Endpoint } from './docker-engine.js';
import { platform as platformSchema } from './image-options.js';
import { readLabels } from './labels.js';
import { followable, ListingBuilder, type FoundContainer } from './listing.js';
import { defineSource, SourceError, type ImageSource, type ListContext, type SourceListing } from './source.js';

export const dockerSchema = z
  .object({
    name: z.string().min(1),
    type: z.literal('docker'),
    endpoint: z
      .string()
      .regex(/^(unix:\/\/\/|tcp:\/\/|https?:\/\/)/, 'endpoint must be unix:///path/to/docker.sock or tcp://host:port')
      .optional()
      .describe('default: $DOCKER_HOST, else unix:///var/run/docker.sock'),
    tls: z
      .object({ caFile: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })
      .strict()
      .optional()
      .describe('TLS client certificate and CA for tcp:// endpoints'),
    watchByDefault: z.boolean().default(false).describe('false: only containers labelled herald.enable=true; true: all but herald.enable=false'),
    watchStopped: z.boolean().default(false).describe('also containers that exist but do not run'),
    timeout: duration.prefault('15s'),
  })
  .strict();

export type DockerSourceConfig = z.output<typeof dockerSchema>;

// What herald reads of the engine's answers; other fields are ignored, and these are the same in
// Docker and Podman (checked against podman 4.3's compatible service and moby's API types).
const containerShape = z.object({
  Id: z.string().min(1),
  Names: z.array(z.string()).nullish(),
  Image: z.string(),
  ImageID: z.string(),
  Labels: z.record(z.string(), z.string()).nullish(),
});
const listShape = z.array(containerShape);
const imageShape = z.object({
  RepoDigests: z.array(z.string()).nullish(),
  Os: z.string().nullish(),
  Architecture: z.string().nullish(),
  Variant: z.string().nullish(),
});
const containerInspectShape = z.object({ Config: z.object({ Image: z.string() }) });

type EngineContainer = z.infer<typeof containerShape>;

interface ImageFacts {
  /** RepoDigests, as `registry/repository` → digests, in the engine's order. */
  digests: Map<string, string[]>;
  platform: string | undefined;
  /** Repositories a container needed when the image was last inspected: a miss there is not asked again. */
  asked: Set<string>;
}

/** Inspects run a few at a time: a cold start over hundreds of images must not open hundreds of connections. */
const INSPECT_CONCURRENCY = 8;

export const dockerSource = defineSource({
  schema: dockerSchema,
  create(config, ctx): ImageSource {
    return new DockerSource(config, ctx.dir);
  },
});

class DockerSource implements ImageSource {
  readonly type = 'docker';
  readonly name: string;
  private readonly subject: string;
  private engine: EngineClient | undefined;
  private readonly images = new Map<string, ImageFacts>();
  /** Container id → its Config.Image, for containers the listing names by image id; it never changes. */
  private readonly createdFrom = new Map<string, string>();

  constructor(
    private readonly config: DockerSourceConfig,
    private readonly dir: string,
  ) {
    this.name = config.name;
    this.subject = `source ${config.name}`;
  }

  async list(ctx: ListContext): Promise<SourceListing> {
    const engine = this.client();
    const listed = parse(listShape, (await engine.get(`/containers/json${this.config.watchStopped ? '?all=true' : ''}`, [], ctx.signal)).json, this.subject, 'GET /containers/json', engine.endpoint.display);
    const wanted: Array<{ container: EngineContainer; reference: string; repository: string | undefined }> = [];
    await pool(listed, INSPECT_CONCURRENCY, async (container) => {
      if (!this.watched(container.Labels ?? {})) return;
      const reference = await this.referenceOf(container, ctx.signal);
      const target = followable(reference);
      wanted.push({ container, reference, repository: 'ref' in target ? repositoryKey(target.ref.registry, target.ref.repository) : undefined });
    });
    // One inspect per image id, however many containers run it; none for ids already known.
    const toInspect = new Map<string, Set<string>>();
    for (const { container, repository } of wanted) {
      if (repository === undefined || container.ImageID === '') continue;
      const known = this.images.get(container.ImageID);
      if (known !== undefined && (known.digests.has(repository) || known.asked.has(repository))) continue;
      const repos = toInspect.get(container.ImageID) ?? new Set<string>();
      toInspect.set(container.ImageID, repos.add(repository));
    }
    await pool([...toInspect], INSPECT_CONCURRENCY, ([id, repos]) => this.inspectImage(id, repos, ctx.signal));

    const builder = new ListingBuilder({ source: this.name, watchByDefault: this.config.watchByDefault }, ctx);
    // The engine's order, not the order inspects finished: the first container's labels hold for an image.
    const order = new Map(listed.map((c, i) => [c.Id, i]));
    wanted.sort((a, b) => order.get(a.container.Id)! - order.get(b.container.Id)!);
    for (const { container, reference, repository } of wanted) {
      const facts = this.images.get(container.ImageID);
      const found: FoundContainer = {
        name: containerName(container),
        id: container.Id,
        image: reference,
        labels: container.Labels ?? {},
        runningDigest: repository === undefined ? null : runningDigest(reference, facts?.digests.get(repository)),
      };
      if (facts?.platform !== undefined) found.platform = facts.platform;
      builder.add(found);
    }
    this.forgetGone(listed);
    return builder.result();
  }

  async close(): Promise<void> {
    await this.engine?.close();
    this.engine = undefined;
  }

  private client(): EngineClient {
    if (this.engine !== undefined) return this.engine;
    let endpoint: Endpoint;
    try {
      endpoint = resolveEndpoint(this.config.endpoint, this.config.tls, this.dir);
    } catch (err) {
      // The schema checks only the endpoint's scheme, and $DOCKER_HOST is read here: a bad one is
      // this source's listing error, like an engine that cannot be reached (create() must not throw).
      throw err instanceof SourceError ? new SourceError(`${this.subject}: ${err.message}`) : err;
    }
    this.engine = new EngineClient(this.subject, endpoint, this.config.timeout);
    return this.engine;
  }

  /** Only containers herald will list cost requests; a bad herald.enable is listed, with its problem. */
  private watched(labels: Record<string, string>): boolean {
    const enable = labels['herald.enable'];
    if (enable === undefined) return this.config.watchByDefault;
    return readLabels({ 'herald.enable': enable }, []).enable ?? true;
  }

  /**
   * The reference the container was created from. `/containers/json` gives it as `Image`, except
   * that Docker puts the image id there when the reference no longer resolves to the container's
   * image (the tag was pulled again, or the image removed): the case herald exists for. Only then
   * is `/containers/{id}/json` asked for `Config.Image`, once per container. Podman 4.3 keeps the
   * reference in `Image` after a pull; both give the id when the container was created from one.
   */
  private async referenceOf(container: EngineContainer, signal: AbortSignal | undefined): Promise<string> {
    const imageId = container.ImageID;
    let reference = container.Image;
    if (reference === imageId && imageId !== '') {
      let created = this.createdFrom.get(container.Id);
      if (created === undefined) {
        const res = await this.client().get(`/containers/${encodeURIComponent(container.Id)}/json`, [404], signal);
        // Removed since the listing: its id is all there is.
        created = res.status === 404 ? imageId : parse(containerInspectShape, res.json, this.subject, 'GET /containers/{id}/json', this.client().endpoint.display).Config.Image;
        this.createdFrom.set(container.Id, created);
      }
      reference = created;
    }
    // `docker run 1a2b3c4d5e6f` keeps the short id as Config.Image; it would read as a Hub repository.
    const hex = imageId.replace(/^sha256:/, '');
    const short = reference.replace(/^sha256:/, '');
    if (/^[0-9a-f]{6,64}$/.test(short) && hex.startsWith(short)) return `sha256:${hex}`;
    return reference;
  }

  private async inspectImage(id: string, repositories: Set<string>, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.client().get(`/images/${encodeURIComponent(id)}/json`, [404], signal);
    // Removed since the listing (`docker rmi -f`): nothing known; asked again next run.
    if (res.status === 404) return;
    const image = parse(imageShape, res.json, this.subject, 'GET /images/{id}/json', this.client().endpoint.display);
    const known = this.images.get(id);
    // Digests are kept, not replaced: a RepoDigest stays true of the content, and podman 4.3 drops
    // the old image's RepoDigests when its tag is pulled again while containers still run it.
    const digests = known?.digests ?? new Map<string, string[]>();
    for (const entry of image.RepoDigests ?? []) {
      const at = repoDigest(entry);
      if (at === undefined) continue;
      const list = digests.get(at.repository) ?? [];
      if (!list.includes(at.digest)) list.push(at.digest);
      digests.set(at.repository, list);
    }
    const asked = known?.asked ?? new Set<string>();
    for (const repository of repositories) asked.add(repository);
    this.images.set(id, { digests, platform: platformOf(image), asked });
  }

  private forgetGone(listed: readonly EngineContainer[]): void {
    const ids = new Set(listed.map((c) => c.ImageID));
    for (const id of this.images.keys()) if (!ids.has(id)) this.images.delete(id);
    const containers = new Set(listed.map((c) => c.Id));
    for (const id of this.createdFrom.keys()) if (!containers.has(id)) this.createdFrom.delete(id);
  }
}

function repositoryKey(registry: string, repository: string): string {
  return `${registry}/${repository}`;
}

/** `nginx@sha256:…` (Docker) and `docker.io/library/nginx@sha256:…` (Podman) name one repository. */
function repoDigest(entry: string): { repository: string; digest: string } | undefined {
  try {
    const ref = parseReference(entry);
    return ref.digest === undefined ? undefined : { repository: repositoryKey(ref.registry, ref.repository), digest: ref.digest };
  } catch {
    return undefined; // Docker lists `<none>@<none>` for some images
  }
}

/** A reference pinned `name:tag@digest` runs that digest; else the image's first digest for the repository. */
function runningDigest(reference: string, digests: readonly string[] | undefined): string | null {
  const pinned = /@(sha256:[0-9a-f]{64})$/.exec(reference)?.[1];
  return pinned ?? digests?.[0] ?? null;
}

function platformOf(image: z.infer<typeof imageShape>): string | undefined {
  const os = image.Os?.toLowerCase();
  const arch = image.Architecture?.toLowerCase();
  if (!os || !arch) return undefined;
  const variant = image.Variant?.toLowerCase();
  const text = variant ? `${os}/${arch}/${variant}` : `${os}/${arch}`;
  return platformSchema.safeParse(text).success ? text : undefined;
}

/** Names are `/web`; a legacy link adds `/other/alias` names, which are not the container's own. */
function containerName(container: EngineContainer): string {
  const names = (container.Names ?? []).map((n) => n.replace(/^\//, ''));
  return names.find((n) => !n.includes('/')) ?? names[0] ?? container.Id.slice(0, 12);
}

function parse<T>(shape: z.ZodType<T>, json: unknown, subject: string, what: string, endpoint: string): T {
  const parsed = shape.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '')}`;
  throw new SourceError(`${subject}: ${endpoint} answered ${what} with an unexpected shape${where}: ${issue?.message ?? 'invalid'} (is it a Docker engine?)`);
}

async function pool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  // The first failure ends the listing: the other workers take no new item after it.
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      try {
        await work(items[next++]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}
