/**
 * Build counters in a tag's suffix: the numbers that change with every build (3.10-master-777,
 * v3.9.0-177-ged5bcde, 8.7-923.1669829893, 1803-KB4487017, 1.2.3-ls45) and so must not become part of
 * the flavour, told apart from the words that carry digits and name a flavour (alpine3.20, jdk17,
 * ltsc2022, debian-12). Used by versions.ts.
 */

/** A build counter as the last dash component. */
const BUILD_COMPONENT = /^(ls|r)(\d+)$/i;
/** A counter right after the version: 2, 923.1669829893, 0.3.1. */
const COUNTER = /^\d+(?:\.\d+)*$/;
/** The hash of `git describe` (v3.9.0-177-ged5bcde). */
const GIT_HASH = /^g[0-9a-f]{7,40}$/;
/** A Windows update (1803-KB4487017). */
const KB = /^KB(\d+)$/;

export interface SplitSuffix {
  /** The words of the suffix, the flavour's text ('alpine', 'jdk17', 'ltsc2022', 'debian', '12'). */
  words: string[];
  /** The suffix as the flavour writes it: counters as '#', git hashes as 'g#', KB numbers as 'KB#'. */
  shape: string[];
  /** The counters' digit strings, in order; a dotted counter (0.3.1) gives each of its numbers. */
  counters: string[];
  /** 'ls' or 'r' for a -lsN/-rN counter at the end. */
  kind?: string;
}

/**
 * Which dash components of a suffix are build counters rather than flavour. A counter is
 *  - `-lsN` or `-rN` at the end (linuxserver, bitnami);
 *  - a number (or dotted numbers) right after the version, unless another number follows (then it is
 *    a dashed date or a version in the suffix: 1.2.3-2024-10-01) or it has exactly 7 digits (a short
 *    git hash that happens to be all digits, 7.2-9658143); a git-describe hash (g + hex) may follow it;
 *  - a number of 3 or more digits at the end, after a word (3.10-master-777, 3.3-apache-202209221209);
 *    shorter ones stay flavour (17.2.0-debian-12-r3);
 *  - a Windows update, KBnnnn, first or last.
 * Words that carry digits (alpine3.20, jdk17, ltsc2022) are never counters.
 */
export function splitCounters(parts: string[], glued: boolean): SplitSuffix {
  const out: SplitSuffix = { words: [], shape: [], counters: [] };
  let last = parts.length;
  const end = parts[last - 1];
  const lsr = end === undefined ? null : BUILD_COMPONENT.exec(end);
  if (lsr) {
    out.kind = lsr[1]!.toLowerCase();
    last--;
  }
  for (let i = 0; i < last; i++) {
    const part = parts[i]!;
    const kb = KB.exec(part);
    const first = i === 0 && !glued && out.kind === undefined;
    if (kb && (i === 0 || i === last - 1)) {
      out.shape.push('KB#');
      out.counters.push(kb[1]!);
    } else if (first && COUNTER.test(part) && part.length !== 7 && !(i + 1 < last && /^\d/.test(parts[i + 1]!))) {
      out.shape.push('#');
      out.counters.push(...part.split('.'));
      if (i + 1 < last && GIT_HASH.test(parts[i + 1]!)) {
        out.shape.push('g#');
        i++;
      }
    } else if (i === last - 1 && i > 0 && out.kind === undefined && /^\d{3,}$/.test(part) && !/^\d/.test(parts[i - 1]!)) {
      out.shape.push('#');
      out.counters.push(part);
    } else {
      out.words.push(part);
      out.shape.push(part);
    }
  }
  if (lsr) out.counters.push(lsr[2]!);
  return out;
}
