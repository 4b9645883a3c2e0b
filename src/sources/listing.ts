/**
 * What engine and cluster sources share: turning the containers they found into watched images.
 * Each container's labels are read, its reference normalized like a config image, and containers
 * of one (reference, platform) are gathered under one image, checked once however many run it.
 */
import { parseReference, type ImageReference } from '../model/reference.js';
import type { WatchedImage } from '../model/image.js';
import type { RunningContainer } from '../model/container.js';
import { errorMessage } from '../util/errors.js';
import { applyDefaults, newerOnlyTagProblem } from './image-options.js';
import { readLabels } from './labels.js';
import type { ListContext, SourceListing, UnwatchedContainer } from './source.js';

export interface FoundContainer {
  name: string;
  id: string;
  namespace?: string;
  /** The reference it was created from: Docker `Config.Image`, Kubernetes `spec.containers[].image`. */
  image: string;
  /** Docker labels or pod annotations. */
  labels: Readonly<Record<string, string>>;
  /** The image's own platform (os/arch[/variant]) when the engine knows it. */
  platform?: string;
  runningDigest: string | null;
}

export interface ListingOptions {
  /** The source's name: containers and events name it. */
  source: string;
  /** false: only containers labelled herald.enable=true; true: all but herald.enable=false. */
  watchByDefault: boolean;
  /** What the settings are called where they are written: Docker labels, or a pod's annotations. */
  settings?: 'label' | 'annotation';
}

/** A container's reference is followable when it names a tag; a bare digest or an image id is not. */
export function followable(image: string): { ref: ImageReference } | { reason: string } {
  const text = image.trim();
  if (/^(sha256:)?[a-f0-9]{64}$/.test(text)) return { reason: 'created from an image id, not a tag: nothing to follow' };
  let ref: ImageReference;
  try {
    ref = parseReference(text);
  } catch (err) {
    return { reason: errorMessage(err) };
  }
  if (ref.digest !== undefined) {
    if (!/:[^/@]+@/.test(text)) return { reason: `created from a digest (${ref.digest.slice(0, 19)}…), not a tag: nothing to follow` };
    // name:tag@digest: the tag is what moves; the digest was only the one pulled at the time.
    return { ref: parseReference(`${ref.registry}/${ref.repository}:${ref.tag}`) };
  }
  return { ref };
}

export class ListingBuilder {
  private readonly byKey = new Map<string, WatchedImage>();
  private readonly unwatched: UnwatchedContainer[] = [];

  constructor(
    private readonly opts: ListingOptions,
    private readonly ctx: ListContext,
  ) {}

  add(found: FoundContainer): void {
    const labels = readLabels(found.labels, this.ctx.notifierNames);
    const enabled = labels.enable ?? this.opts.watchByDefault;
    // A bad herald.enable is shown, not taken as "off": the user meant something by it.
    const badEnable = labels.problems.some((p) => p.startsWith('label herald.enable:'));
    if (!enabled && !badEnable) return;
    // Pod names repeat across namespaces: a message names the container with its namespace.
    const where = found.namespace !== undefined ? `${found.namespace}/${found.name}` : found.name;
    const target = followable(found.image);
    if ('reason' in target) {
      this.unwatched.push({ container: where, image: found.image, reason: target.reason });
      return;
    }
    const entry = { name: target.ref.name, ...labels.options, ...(labels.options.platform === undefined && found.platform !== undefined ? { platform: found.platform } : {}) };
    const image = applyDefaults(entry, this.ctx.defaults, target.ref, `source ${this.opts.source}`);
    const problems = [...labels.problems];
    const tagProblem = newerOnlyTagProblem(image);
    if (tagProblem !== undefined) problems.push(`label herald.newerOnly: ${tagProblem}`);
    const container: RunningContainer = {
      source: this.opts.source,
      name: found.name,
      id: found.id,
      ...(found.namespace !== undefined ? { namespace: found.namespace } : {}),
      runningDigest: found.runningDigest,
    };
    const key = `${image.ref.name}\u0000${image.platform}`;
    const known = this.byKey.get(key);
    const word = this.opts.settings ?? 'label';
    const named = word === 'label' ? problems : problems.map((p) => p.replace(/^label /, `${word} `));
    const problem = named.length > 0 ? `container ${where}: ${named.join('; ')}` : undefined;
    if (known === undefined) {
      this.byKey.set(key, { ...image, sources: [this.opts.source], containers: [container], ...(problem !== undefined ? { problem } : {}) });
      return;
    }
    // Containers of one image share its settings: the first container's labels hold.
    known.containers!.push(container);
    if (problem !== undefined) known.problem = known.problem === undefined ? problem : `${known.problem}; ${problem}`;
  }

  result(): SourceListing {
    return { images: [...this.byKey.values()], unwatched: this.unwatched };
  }
}
