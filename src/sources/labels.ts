/**
 * Per-container settings from Docker labels and Kubernetes pod annotations: `herald.<key>` with the
 * image keys' names. Values are strings, read as the key's type: booleans `true`/`false`, numbers,
 * comma-separated lists (`herald.notifyOn`, `herald.notifiers`), `;`-separated regexes
 * (`herald.includeTags`, `herald.excludeTags`), and `herald.metadata.<key>` for metadata.
 *
 * Labels are data found at run time, not config: a bad value is a problem for that container's
 * image (an `error` naming the container, the label and the problem), never a stopped herald.
 */
import { z } from 'zod';
import { imageOptions, type ImageEntry } from './image-options.js';

export const LABEL_PREFIX = 'herald.';

export type LabelOptions = Omit<ImageEntry, 'name'>;

export interface LabelReading {
  /** `herald.enable`, when set to a valid value. */
  enable: boolean | undefined;
  options: LabelOptions;
  /** One line each: `label herald.maxTags: "ten" is not a whole number`. */
  problems: string[];
}

type OptionKey = keyof typeof imageOptions;

/** How each option's text becomes the value its schema checks. */
const READERS: Record<Exclude<OptionKey, 'metadata'>, (text: string) => unknown> = {
  platform: (text) => text,
  notifyOn: list(','),
  notifiers: list(','),
  hubLink: (text) => text,
  watchRepo: boolean,
  includeTags: list(';'),
  excludeTags: list(';'),
  sortTags: (text) => text,
  maxTags: number,
  newerOnly: boolean,
  sameFlavour: boolean,
  includePrereleases: boolean,
};

export function readLabels(labels: Readonly<Record<string, string>>, notifierNames: readonly string[]): LabelReading {
  const options: Record<string, unknown> = {};
  const metadata: Record<string, string> = {};
  const problems: string[] = [];
  let enable: boolean | undefined;
  for (const [label, text] of Object.entries(labels)) {
    if (!label.startsWith(LABEL_PREFIX)) continue;
    const key = label.slice(LABEL_PREFIX.length);
    const bad = (why: string) => problems.push(`label ${label}: ${JSON.stringify(text)} ${why}`);
    if (key === 'enable') {
      const value = boolean(text);
      if (typeof value === 'boolean') enable = value;
      else bad('is not true or false');
      continue;
    }
    if (key.startsWith('metadata.') && key.length > 'metadata.'.length) {
      metadata[key.slice('metadata.'.length)] = text;
      continue;
    }
    if (!(key in READERS)) {
      problems.push(`label ${label}: unknown (herald reads ${['enable', ...Object.keys(READERS), 'metadata.<key>'].map((k) => LABEL_PREFIX + k).join(', ')})`);
      continue;
    }
    const optionKey = key as keyof typeof READERS;
    const value = READERS[optionKey](text);
    const parsed = (imageOptions[optionKey] as z.ZodType).safeParse(value);
    if (!parsed.success) {
      bad(explain(parsed.error, optionKey));
      continue;
    }
    if (optionKey === 'notifiers') {
      const unknown = (parsed.data as string[]).filter((name) => !notifierNames.includes(name));
      if (unknown.length > 0) {
        bad(`names unknown notifier ${unknown.map((n) => JSON.stringify(n)).join(', ')} (${notifierNames.length === 0 ? 'no notifiers are configured' : `configured: ${notifierNames.join(', ')}`})`);
        continue;
      }
    }
    options[optionKey] = parsed.data;
  }
  if (Object.keys(metadata).length > 0) options.metadata = metadata;
  return { enable, options: options as LabelOptions, problems };
}

function list(separator: string): (text: string) => string[] {
  return (text) => text.split(separator).map((item) => item.trim()).filter((item) => item !== '');
}

/** Not a boolean: the text itself, which the schema then refuses. */
function boolean(text: string): boolean | string {
  const lower = text.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : text;
}

function number(text: string): number | string {
  return /^\s*-?\d+\s*$/.test(text) ? Number(text) : text;
}

function explain(error: z.ZodError, key: OptionKey): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'is not valid';
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'boolean' ? 'is not true or false' : issue.expected === 'number' ? 'is not a whole number' : `is not a ${issue.expected}`;
    case 'too_small':
      return 'is below 0';
    case 'invalid_value':
      return `is not one of ${issue.values.map((v) => String(v)).join(', ')}`;
    default:
      return key === 'notifyOn' ? 'is not a list of new, update, error' : `is not valid: ${issue.message}`;
  }
}
