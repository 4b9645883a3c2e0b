/**
 * V8 heap settings for `serve`, a long-running process with a small working set (about 35 MB of
 * live heap with 5000 images) that allocates fast while a run is on (every check allocates ~20 KB
 * that dies within milliseconds).
 *
 * By default V8 doubles the young generation up to 2 × 16 MB under that allocation rate and lets the
 * old generation grow to several times its live size before collecting it, so RSS climbs to ~200 MB.
 * These flags keep the young generation at its initial size and grow the old one by 30% between
 * full collections. Measured with 5000 images (docs/BENCHMARKS.md): peak RSS ~145 MB instead of
 * ~195 MB, for roughly 15% more CPU per check. Both flags are read by the garbage collector as it
 * runs, so setting them at start-up, before the config is loaded, is enough.
 */
import { setFlagsFromString } from 'node:v8';

export const DAEMON_V8_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=30'] as const;

export function tuneHeapForDaemon(): void {
  for (const flag of DAEMON_V8_FLAGS) setFlagsFromString(flag);
}
