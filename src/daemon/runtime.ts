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
 *
 * --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly. V8 first compiles it with
 * its baseline compiler (Liftoff) and then, once it is hot, again with TurboFan in the background;
 * that second compilation takes ~30 MB of native memory for a moment, early in the first run (with
 * 300 images, peak RSS 120 MB against 87–91 MB without it). Parsing the few header lines of a HEAD
 * answer is a tiny part of a check, so the baseline code costs nothing measurable. It must be set
 * before undici is loaded (serve loads it lazily, after this). Every other command gets it from
 * src/util/undici.ts, which sets it as it loads undici.
 */
import { setFlagsFromString } from 'node:v8';

export const DAEMON_V8_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=30', '--liftoff-only'] as const;

export function tuneHeapForDaemon(): void {
  for (const flag of DAEMON_V8_FLAGS) setFlagsFromString(flag);
}
