/**
 * Any text (a library's error message, a response snippet) as one line: runs of white space
 * (newlines included) become one space, the ends are trimmed, and past `max` characters it is cut
 * with an ellipsis, never inside a UTF-16 surrogate pair.
 */
export function oneLine(text: string, max = Infinity): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= max) return line;
  let cut = Math.max(0, max - 1);
  const code = line.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${line.slice(0, cut)}…`;
}

/** A map as YAML, JSON and registries give them: an object that is not null and not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A count and its noun, singular for 1: `counted(1, 'image')` is "1 image", `counted(2, 'registry', 'registries')` "2 registries". */
export function counted(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}
