/**
 * The registries' auth challenges as last pinged (migrations/004_registry_challenges.sql), so that a
 * new process (a `check` from cron) need not ping a registry it pinged a moment ago. A cache: every
 * read or write that fails is as if nothing were stored.
 */
import type { DB } from './db.js';

/** A WWW-Authenticate challenge as stored: its scheme (lower case), parameters and token68. */
export interface StoredChallenge {
  scheme: string;
  params: Record<string, string>;
  token68?: string;
}

export interface RememberedPing {
  /** undefined: the registry's /v2/ asked for no auth. */
  challenge: StoredChallenge | undefined;
  /** When it was pinged (epoch ms). */
  at: number;
}

export class ChallengeStore {
  private readonly getStmt;
  private readonly putStmt;
  private readonly removeStmt;

  constructor(db: DB) {
    this.getStmt = db.prepare('SELECT challenge, pinged_at FROM registry_challenges WHERE endpoint = ?');
    this.putStmt = db.prepare(`INSERT INTO registry_challenges (endpoint, challenge, pinged_at) VALUES (?, ?, ?)
      ON CONFLICT (endpoint) DO UPDATE SET challenge = excluded.challenge, pinged_at = excluded.pinged_at`);
    this.removeStmt = db.prepare('DELETE FROM registry_challenges WHERE endpoint = ?');
  }

  get(endpoint: string): RememberedPing | undefined {
    try {
      const row = this.getStmt.get(endpoint) as { challenge: string | null; pinged_at: number } | undefined;
      if (row === undefined) return undefined;
      const challenge = row.challenge === null ? undefined : parseChallenge(row.challenge);
      if (challenge === null) return undefined;
      return { challenge, at: row.pinged_at };
    } catch {
      return undefined;
    }
  }

  set(endpoint: string, challenge: StoredChallenge | undefined, at: number): void {
    try {
      this.putStmt.run(endpoint, challenge === undefined ? null : JSON.stringify(challenge), at);
    } catch {
      // a cache: the next process pings again
    }
  }

  delete(endpoint: string): void {
    try {
      this.removeStmt.run(endpoint);
    } catch {
      // a cache: a wrong entry is found wrong again, and dropped then
    }
  }
}

/** The stored JSON, or null when it is not a challenge (written by something else). */
function parseChallenge(text: string): StoredChallenge | null {
  try {
    const v = JSON.parse(text) as Partial<StoredChallenge>;
    if (typeof v.scheme !== 'string' || v.params === null || typeof v.params !== 'object') return null;
    if (!Object.values(v.params).every((p) => typeof p === 'string')) return null;
    return { scheme: v.scheme, params: { ...v.params }, ...(typeof v.token68 === 'string' ? { token68: v.token68 } : {}) };
  } catch {
    return null;
  }
}
