/**
 * Just enough introspection of the zod schema to answer "what is at this key path?": the known keys
 * of a section (for unknown-key suggestions and env overrides), the type of a leaf (for converting
 * env strings) and a number's bounds (for readable messages). Zod 4 keeps all of it in `_zod.def`.
 */
import type { z } from 'zod';
import type { KeyPath } from './problems.js';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  valueType?: z.ZodType;
  entries?: Record<string, string | number>;
  values?: unknown[];
  checks?: { _zod: { def: { check: string; value?: unknown; inclusive?: boolean; format?: string; minimum?: number } } }[];
}

export function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Through optional/default/prefault/nullable wrappers, and into the input side of transforms. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const d = def(current);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(d.type)) current = d.innerType;
    else if (d.type === 'pipe' && d.in) current = d.in;
    else return current;
  }
}

/** The object shapes a value at this schema may have: one, or one per option of a union of objects. */
export function shapesOf(schema: z.ZodType, value?: unknown): Record<string, z.ZodType>[] {
  const d = def(unwrap(schema));
  if (d.type === 'object' && d.shape) return [d.shape];
  if (d.type === 'union' && d.options) {
    const shapes = d.options.flatMap((option) => shapesOf(option));
    // A discriminated union: the option named by the value's discriminator comes first.
    if (d.discriminator && value && typeof value === 'object') {
      const tag = (value as Record<string, unknown>)[d.discriminator];
      shapes.sort((a, b) => Number(matches(b, d.discriminator!, tag)) - Number(matches(a, d.discriminator!, tag)));
    }
    return shapes;
  }
  return [];
}

function matches(shape: Record<string, z.ZodType>, key: string, tag: unknown): boolean {
  const field = shape[key];
  return field !== undefined && (def(unwrap(field)).values ?? []).includes(tag);
}

/** Known keys of the section at this schema (union of all options for a union of objects). */
export function keysOf(schema: z.ZodType, value?: unknown): string[] {
  const keys: string[] = [];
  for (const shape of shapesOf(schema, value)) for (const key of Object.keys(shape)) if (!keys.includes(key)) keys.push(key);
  return keys;
}

/** The schema of one key of a section; the first option that has it for a union. */
export function fieldOf(schema: z.ZodType, key: string, value?: unknown): z.ZodType | undefined {
  for (const shape of shapesOf(schema, value)) if (shape[key]) return shape[key];
  return undefined;
}

/** Follows a key path through the schema, using the data to pick union options. */
export function schemaAt(root: z.ZodType, keyPath: KeyPath, data: unknown): z.ZodType | undefined {
  let schema: z.ZodType | undefined = root;
  let value = data;
  for (const segment of keyPath) {
    if (!schema) return undefined;
    const d = def(unwrap(schema));
    if (d.type === 'array' && typeof segment === 'number') schema = d.element;
    else if (d.type === 'record') schema = d.valueType;
    else schema = fieldOf(schema, String(segment), value);
    value = value && typeof value === 'object' ? (value as Record<string | number, unknown>)[segment] : undefined;
  }
  return schema;
}

export type Leaf = 'string' | 'number' | 'boolean' | 'enum' | 'mixed' | 'other';

/** What kind of scalar a schema takes. 'mixed' is a union that accepts a string (durations, metadata values). */
export function leafKind(schema: z.ZodType): Leaf {
  const d = def(unwrap(schema));
  switch (d.type) {
    case 'string':
      return 'string';
    case 'number':
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'enum':
    case 'literal':
      return 'enum';
    case 'union':
      return (d.options ?? []).some((option) => leafKind(option) === 'string') ? 'mixed' : 'other';
    default:
      return 'other';
  }
}

/** Allowed values of an enum or literal schema. */
export function enumValues(schema: z.ZodType): string[] {
  const d = def(unwrap(schema));
  if (d.entries) return Object.values(d.entries).map(String);
  return (d.values ?? []).map(String);
}

/** `an integer from 1 to 256`, `a number ≥ 0`: the constraints of a number schema in words. */
export function describeNumber(schema: z.ZodType): string {
  let integer = false;
  let min: { value: number; inclusive: boolean } | undefined;
  let max: { value: number; inclusive: boolean } | undefined;
  for (const check of def(unwrap(schema)).checks ?? []) {
    const c = check._zod.def;
    if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int32')) integer = true;
    if (c.check === 'greater_than' && typeof c.value === 'number') min = { value: c.value, inclusive: c.inclusive !== false };
    if (c.check === 'less_than' && typeof c.value === 'number') max = { value: c.value, inclusive: c.inclusive !== false };
  }
  const noun = integer ? 'an integer' : 'a number';
  if (min?.inclusive && max?.inclusive) return `${noun} from ${min.value} to ${max.value}`;
  const bounds = [min && `${min.inclusive ? '≥' : '>'} ${min.value}`, max && `${max.inclusive ? '≤' : '<'} ${max.value}`].filter(Boolean);
  if (bounds.length > 0) return `${noun} ${bounds.join(' and ')}`;
  return noun;
}
