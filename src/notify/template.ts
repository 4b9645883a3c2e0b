/**
 * Liquid templates for notifier titles and bodies: the engines (built once each), the context a
 * template sees, the default templates, and the small event helpers every notifier shares.
 *
 * Template context. Every template gets:
 *   events  the delivery's events (one, or a run's events for batch notifiers), each with every
 *           field of HeraldEvent (model/event.ts) plus `link` (see eventLink)
 *   count   events.size
 * and, when the delivery holds exactly one event, that event's fields (and `link`) at the top
 * level too, so `{{ image }}` works in the common case and `{% for e in events %}` always works.
 *
 * Safety: Liquid runs no JavaScript. Beyond that the engines here refuse unknown filters at parse
 * time (so a typo is a config error, not a failed delivery), cannot read files (include, render and
 * layout are removed), see only own properties, and have render time and memory limits.
 */
import { shortDigest } from '../model/digest.js';
import type { Liquid, Template } from 'liquidjs';
import { lazy } from '../util/lazy.js';
import type { HeraldEvent } from '../model/event.js';
import { NotifyError, type ConfigProblem } from './notifier.js';

// liquidjs is loaded when the first template is compiled, not at import: validating a config
// without notifiers (`herald check` on most setups, `config validate`) should not pay ~40 ms and
// ~14 MB for it. Synchronous, because compiling happens inside synchronous config checks.
const liquidjs = lazy<typeof import('liquidjs')>('liquidjs');

/** text: output as is. mrkdwn: every {{ output }} is escaped for Slack mrkdwn (& < >). */
export type TemplateKind = 'text' | 'mrkdwn';

export interface CompiledTemplate {
  readonly key: string;
  readonly kind: TemplateKind;
  readonly templates: Template[];
}

const engines = new Map<TemplateKind, Liquid>();

function engine(kind: TemplateKind): Liquid {
  let liquid = engines.get(kind);
  if (liquid === undefined) {
    const LiquidEngine = liquidjs().Liquid;
    liquid = new LiquidEngine({
      strictFilters: true,
      ownPropertyOnly: true,
      templates: {},
      timezoneOffset: 0,
      parseLimit: 100_000,
      renderLimit: 1_000,
      memoryLimit: 50_000_000,
      ...(kind === 'mrkdwn' ? { outputEscape: escapeMrkdwn } : {}),
    });
    for (const tag of ['include', 'render', 'layout']) delete liquid.tags[tag];
    liquid.registerFilter('short', (value: unknown) => (typeof value === 'string' && value !== '' ? shortDigest(value) : ''));
    engines.set(kind, liquid);
  }
  return liquid;
}

/** Parses a template; throws an Error with a one-line message (with line and column) when invalid. */
export function compileTemplate(key: string, source: string, kind: TemplateKind = 'text'): CompiledTemplate {
  try {
    return { key, kind, templates: engine(kind).parse(source) };
  } catch (err) {
    throw new Error(firstLine(err));
  }
}

/** The problems `check()` reports for a notifier's templates, keyed by config key. */
export function templateProblems(entries: Array<[key: string, source: string | undefined, kind: TemplateKind]>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [key, source, kind] of entries) {
    if (source === undefined) continue;
    try {
      compileTemplate(key, source, kind);
    } catch (err) {
      problems.push({ key, message: `invalid template: ${firstLine(err)}` });
    }
  }
  return problems;
}

/** Renders for these events. A failure here is the template's fault, so retrying cannot help. */
export function renderTemplate(compiled: CompiledTemplate, events: readonly HeraldEvent[]): string {
  try {
    return String(engine(compiled.kind).renderSync(compiled.templates, templateContext(events)));
  } catch (err) {
    throw new NotifyError(`template ${compiled.key}: ${firstLine(err)}`, { permanent: true });
  }
}

export function templateContext(events: readonly HeraldEvent[]): Record<string, unknown> {
  const items = events.map((e) => ({ ...e, link: eventLink(e) }));
  const single = items.length === 1 ? items[0] : undefined;
  return { ...single, events: items, count: items.length };
}

/** The link shown for an event: hubLink, else the OCI source label, else the OCI url label. */
export function eventLink(event: HeraldEvent): string | null {
  const candidates = [event.hubLink, event.labels['org.opencontainers.image.source'], event.labels['org.opencontainers.image.url']];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === null) continue;
    // Labels are free text (a source label may be git@host:repo); only web links are links.
    try {
      const url = new URL(candidate.trim());
      if (url.protocol === 'https:' || url.protocol === 'http:') return url.href;
    } catch {
      // not a URL: try the next candidate
    }
  }
  return null;
}

/** "update: docker.io/library/nginx:1.27", or "3 image changes". Mail adds a [herald] prefix. */
export const DEFAULT_TITLE = '{% if count == 1 %}{{ status }}: {{ image }}{% else %}{{ count }} image changes{% endif %}';
export const DEFAULT_MAIL_TITLE = `[herald] ${DEFAULT_TITLE}`;

/**
 * Plain text, one paragraph per event. Every optional line sits inside its own if, so a missing
 * value drops the whole line rather than leaving "created: " behind.
 */
export const DEFAULT_BODY = [
  '{% for e in events %}{{ e.status }}: {{ e.image }}\n',
  '{% if e.tag %}tag:      {{ e.tag }}\n{% endif %}',
  '{% if e.previousDigest and e.digest %}digest:   {{ e.previousDigest | short }} → {{ e.digest | short }}\n',
  '{% elsif e.digest %}digest:   {{ e.digest | short }}\n{% endif %}',
  'platform: {{ e.platform }}\n',
  '{% if e.created %}created:  {{ e.created }}\n{% endif %}',
  '{% if e.link %}link:     {{ e.link }}\n{% endif %}',
  '{% if e.error %}error:    {{ e.error }}\n{% endif %}',
  '{% unless forloop.last %}\n{% endunless %}{% endfor %}',
].join('');

export function escapeMrkdwn(value: unknown): string {
  return String(value ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n', 1)[0] ?? message;
}
