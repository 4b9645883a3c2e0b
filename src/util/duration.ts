import { UserError } from './errors.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses durations written like "30s", "1h30m", "250ms", "0" or a bare number of seconds.
 * Returns milliseconds. Throws UserError on anything else.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new UserError(`invalid duration ${input}`);
    return input * 1000;
  }
  const text = input.trim();
  if (text === '0') return 0;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = re.exec(text)) !== null) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) {
    throw new UserError(`invalid duration "${input}" (use e.g. 30s, 5m, 1h30m)`);
  }
  return total;
}

/**
 * A duration for people, short and exact where it can be: 300ms, 15s, 1.5s, 2m, 2m30s, 1.5h. Used
 * for configured timeouts and Retry-After waits in messages, and for measured waits.
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
  if (ms < 3_600_000) {
    const minutes = Math.floor(ms / 60_000);
    const seconds = Math.round((ms % 60_000) / 1000);
    return seconds === 0 ? `${minutes}m` : seconds === 60 ? `${minutes + 1}m` : `${minutes}m${seconds}s`;
  }
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${(ms / 3_600_000).toFixed(1)}h`;
}
