/**
 * What a chat or push message says: its heading (the rendered templateTitle), the rendered
 * templateBody, and by default the facts it shows for an event, as label/value pairs each notifier
 * lays out in its own markup: tag, old → new digest, platform, created, containers (which run
 * behind), error. The image, status and link are the message's title and link. The push notifiers
 * (Gotify, Pushover, Matrix) render text templates instead, DEFAULT_PUSH_BODY by default.
 */
import { shortDigest } from '../model/digest.js';
import type { HeraldEvent } from '../model/event.js';
import { oneLine } from '../util/text.js';
import type { ConfigProblem } from './notifier.js';
import { DEFAULT_BODY, renderTemplate, templateProblems, type CompiledTemplate } from './template.js';

/**
 * DEFAULT_BODY plus, for events from engine and cluster sources, the containers that run the
 * image, each marked when it runs behind the tag.
 */
export const DEFAULT_PUSH_BODY = DEFAULT_BODY.replace(
  '{% if e.error %}',
  '{% if e.containers.size > 0 %}containers: {% for c in e.containers %}{{ c.name }}{% if c.outdated %} (outdated){% endif %}' +
    '{% unless forloop.last %}, {% endunless %}{% endfor %}\n{% endif %}{% if e.error %}',
);

/** The problems of a templateTitle and a templateBody that are both plain text (no markup to escape for). */
export function textTemplateProblems(config: { templateTitle?: string | undefined; templateBody?: string | undefined }): ConfigProblem[] {
  return templateProblems([
    ['templateTitle', config.templateTitle, 'text'],
    ['templateBody', config.templateBody, 'text'],
  ]);
}

/** The chat notifiers' heading: the title template on one line of ≤ max characters, never empty. */
export function messageHeading(title: CompiledTemplate, events: readonly HeraldEvent[], max: number): string {
  return oneLine(renderTemplate(title, events), max) || `${events.length} image events`;
}

/** A templateBody rendered and trimmed, or undefined without one (the notifier's own layout). */
export function customBody(body: CompiledTemplate | undefined, events: readonly HeraldEvent[]): string | undefined {
  return body === undefined ? undefined : renderTemplate(body, events).trim();
}

/** A push message's title and text for a group of events, and the group (for its link). */
export interface PushText {
  group: readonly HeraldEvent[];
  title: string;
  message: string;
}

/** The title and body templates rendered for a group; either, when empty, says how many changes. */
export function pushText(templates: { title: CompiledTemplate; body: CompiledTemplate }, group: readonly HeraldEvent[]): PushText {
  return {
    group,
    title: oneLine(renderTemplate(templates.title, group)) || `${group.length} image changes`,
    message: renderTemplate(templates.body, group).trim() || `${group.length} image changes`,
  };
}

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
