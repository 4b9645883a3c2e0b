/**
 * Checks that need more than the shape of one key: image references, cron and time zone, names
 * that must be unique or must exist, keys that need one another. Each problem names a key path;
 * the loader turns it into file:line:col (or the environment variable that set it).
 */
import { isPlainObject } from '../util/text.js';
import { lazy } from '../util/lazy.js';

// node-cron is loaded when a schedule is checked, not at import (`check` on a config without one
// should not pay for it).
const cron = lazy<typeof import('node-cron')>('node-cron');
import { notifierCatalog } from '../notify/notifiers/index.js';
import { errorMessage } from '../util/errors.js';
import { parseReference } from '../model/reference.js';
import { REGISTRY_SECRET_KEYS, SERVER_SECRET_KEYS, type Config } from './schema.js';
import { quote } from './humanize.js';
import { FILE_SOURCE } from '../sources/source.js';
import type { KeyPath, Problem } from './problems.js';

export function validateConfig(config: Config): Problem[] {
  const problems: Problem[] = [];

  config.images.forEach((image, i) => {
    const problem = imageNameProblem(image.name);
    if (problem) problems.push({ path: ['images', i, 'name'], message: problem });
  });

  if (config.watch.schedule !== undefined) {
    const problem = cronProblem(config.watch.schedule);
    if (problem) problems.push({ path: ['watch', 'schedule'], message: problem });
  }
  if (config.watch.timezone !== undefined) {
    const problem = timezoneProblem(config.watch.timezone);
    if (problem) problems.push({ path: ['watch', 'timezone'], message: problem });
  }

  problems.push(...uniqueNames('notifier', config.notifiers.map((n) => n.name), 'notifiers'));
  problems.push(...uniqueNames('registry', config.registries.map((r) => r.name), 'registries'));
  problems.push(...uniqueNames('source', config.sources.map((s) => s.name), 'sources'));
  config.sources.forEach((source, i) => {
    if (source.name === FILE_SOURCE) problems.push({ path: ['sources', i, 'name'], message: `"${FILE_SOURCE}" names the config's own images; choose another name` });
  });
  const hosts = new Map<string, number>();
  config.registries.forEach((registry, i) => {
    const host = registry.host.toLowerCase().replace(/\/+$/, '');
    const first = hosts.get(host);
    if (first === undefined) hosts.set(host, i);
    else problems.push({ path: ['registries', i, 'host'], message: `host ${quote(registry.host)} is already configured by registries[${first}]` });
  });

  // Templates are compiled here, at load time, so a template error is a config error, not a failed send.
  config.notifiers.forEach((notifier, i) => {
    for (const p of notifierCatalog.validate(notifier)) problems.push({ path: ['notifiers', i, ...p.key.split('.')], message: p.message });
  });

  const notifierNames = config.notifiers.map((n) => n.name);
  problems.push(...notifierRefProblems(config.defaults.notifiers, notifierNames, ['defaults', 'notifiers']));
  config.images.forEach((image, i) => {
    if (image.notifiers !== undefined) problems.push(...notifierRefProblems(image.notifiers, notifierNames, ['images', i, 'notifiers']));
  });

  config.notifiers.forEach((notifier, i) => {
    for (const message of notifierCatalog.entryProblems(notifier)) problems.push({ path: ['notifiers', i], message });
  });

  forEachSecretHolder(config, (holder, base, keys) => {
    for (const key of keys) {
      if (holder[key] !== undefined && holder[`${key}File`] !== undefined) {
        problems.push({ path: [...base, `${key}File`], message: `set either ${key} or ${key}File, not both` });
      }
    }
  });

  return problems;
}

/**
 * The checks that make sense on a document the schema rejected (image names, cron, time zone), so
 * `config validate` reports them in the same pass as the shape problems.
 */
export function validatePartial(data: unknown): Problem[] {
  const problems: Problem[] = [];
  const root = isPlainObject(data) ? data : {};
  const images = Array.isArray(root.images) ? root.images : [];
  images.forEach((image: unknown, i) => {
    if (!isPlainObject(image) || typeof image.name !== 'string') return;
    const problem = imageNameProblem(image.name);
    if (problem) problems.push({ path: ['images', i, 'name'], message: problem });
  });
  const watch = isPlainObject(root.watch) ? root.watch : {};
  if (typeof watch.schedule === 'string') {
    const problem = cronProblem(watch.schedule);
    if (problem) problems.push({ path: ['watch', 'schedule'], message: problem });
  }
  if (typeof watch.timezone === 'string') {
    const problem = timezoneProblem(watch.timezone);
    if (problem) problems.push({ path: ['watch', 'timezone'], message: problem });
  }
  return problems;
}


/**
 * Sections that may hold secrets with *File twins (every registry and notifier, and the server),
 * each with the keys that have a twin there.
 */
export function forEachSecretHolder(
  config: Config,
  visit: (holder: Record<string, unknown>, path: KeyPath, keys: readonly string[]) => void,
): void {
  config.registries.forEach((registry, i) => visit(registry, ['registries', i], REGISTRY_SECRET_KEYS));
  config.notifiers.forEach((notifier, i) => visit(notifier, ['notifiers', i], notifierCatalog.twinKeysOf(notifier)));
  visit(config.server, ['server'], SERVER_SECRET_KEYS);
}

export function imageNameProblem(name: string): string | undefined {
  try {
    parseReference(name);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

export function notifierRefProblems(refs: readonly string[] | undefined, known: readonly string[], path: KeyPath): Problem[] {
  const problems: Problem[] = [];
  (refs ?? []).forEach((name, j) => {
    if (known.includes(name)) return;
    const listed = known.length === 0 ? 'no notifiers are configured' : `configured: ${known.join(', ')}`;
    problems.push({ path: [...path, j], message: `unknown notifier ${quote(name)} (${listed})` });
  });
  return problems;
}

const CRON_FIELDS: Record<string, string> = { second: 'seconds', minute: 'minute', hour: 'hour', dayOfMonth: 'day-of-month', month: 'month', dayOfWeek: 'day-of-week' };

/** Cron with 5 fields (minute hour day month weekday) or 6 (seconds first), as node-cron runs it. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5 && fields.length !== 6) {
    return `invalid cron expression ${quote(expression)}: expected 5 fields (minute hour day month weekday) or 6 with seconds first, found ${fields.length}`;
  }
  try {
    if (cron().validate(expression)) return undefined;
    const first = cron().validateDetailed(expression).errors[0];
    const field = CRON_FIELDS[first?.field ?? ''] ?? first?.field;
    const detail = !first
      ? 'not understood'
      : /impossible/.test(first.message)
        ? 'that day never occurs in the given month'
        : `bad ${field} field${first.value !== undefined ? ` ${quote(first.value)}` : ''}`;
    return `invalid cron expression ${quote(expression)}: ${detail}`;
  } catch (err) {
    return `invalid cron expression ${quote(expression)}: ${errorMessage(err)}`;
  }
}

export function timezoneProblem(zone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return `unknown time zone ${quote(zone)} (use an IANA name such as UTC or Europe/Berlin)`;
  }
}

function uniqueNames(noun: string, names: string[], list: string): Problem[] {
  const seen = new Map<string, number>();
  const problems: Problem[] = [];
  names.forEach((name, i) => {
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else problems.push({ path: [list, i, 'name'], message: `duplicate ${noun} name ${quote(name)} (already used by ${list}[${first}])` });
  });
  return problems;
}
