/**
 * The facts a default chat or push message shows for an event, as label/value pairs each notifier
 * lays out in its own markup: tag, old → new digest, platform, created, containers (which run
 * behind), error. The image, status and link are the message's title and link.
 */
import { shortDigest } from '../model/digest.js';
import type { HeraldEvent } from '../model/event.js';
import { oneLine } from '../util/text.js';

export interface EventFact {
  label: string;
  value: string;
}

/** Long lists of containers are cut here; the count says how many there are. */
const CONTAINERS_SHOWN = 20;

export function eventFacts(event: HeraldEvent): EventFact[] {
  const facts: EventFact[] = [];
  if (event.tag !== null) facts.push({ label: 'tag', value: event.tag });
  if (event.digest !== null) {
    const digest = shortDigest(event.digest);
    facts.push({ label: 'digest', value: event.previousDigest !== null ? `${shortDigest(event.previousDigest)} → ${digest}` : digest });
  }
  facts.push({ label: 'platform', value: event.platform });
  if (event.created !== null) facts.push({ label: 'created', value: event.created });
  const containers = containerSummary(event);
  if (containers !== undefined) facts.push({ label: 'containers', value: containers });
  if (event.error !== null) facts.push({ label: 'error', value: oneLine(event.error, 1_000) });
  return facts;
}

/** "web (outdated), api (outdated), worker" and "— 2 of 3 outdated"; undefined without containers. */
export function containerSummary(event: HeraldEvent): string | undefined {
  const containers = event.containers;
  if (containers === undefined || containers.length === 0) return undefined;
  const named = containers.slice(0, CONTAINERS_SHOWN).map((c) => {
    const name = c.namespace !== undefined ? `${c.namespace}/${c.name}` : c.name;
    return c.outdated ? `${name} (outdated)` : name;
  });
  const more = containers.length > CONTAINERS_SHOWN ? `, …${containers.length - CONTAINERS_SHOWN} more` : '';
  const outdated = containers.filter((c) => c.outdated).length;
  return `${named.join(', ')}${more} — ${outdated} of ${containers.length} outdated`;
}

/** "update: docker.io/library/nginx:1.27" */
export function eventHeadline(event: HeraldEvent): string {
  return `${event.status}: ${event.image}`;
}
