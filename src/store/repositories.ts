/**
 * The tag lists of watchRepo repositories as last seen (migrations/002_repository_tags.sql): the
 * memory that tells a tag that appeared from one that was always there.
 */
import type { DB } from './db.js';

export interface KnownRepository {
  repository: string;
  firstListed: string;
  tags: Set<string>;
}

/** One repository's change after a listing: tags to remember, tags to forget. */
export interface RepositoryWrite {
  repository: string;
  at: string;
  added: string[];
  removed: string[];
}

export class RepositoryStore {
  private readonly getStmt;
  private readonly tagsStmt;
  private readonly allStmt;
  private readonly everyStmt;
  private readonly everyTagStmt;
  private readonly upsertStmt;
  private readonly addTagStmt;
  private readonly removeTagStmt;
  private readonly removeStmt;

  constructor(db: DB) {
    this.getStmt = db.prepare('SELECT repository, first_listed FROM repositories WHERE repository = ?');
    this.tagsStmt = db.prepare('SELECT tag FROM repository_tags WHERE repository = ?').pluck();
    this.allStmt = db.prepare('SELECT repository FROM repositories ORDER BY repository').pluck();
    this.everyStmt = db.prepare('SELECT repository, first_listed FROM repositories').raw();
    this.everyTagStmt = db.prepare('SELECT repository, tag FROM repository_tags').raw();
    // Positional parameters: binding an object by name costs more, and this runs once per repository per run.
    this.upsertStmt = db.prepare(`INSERT INTO repositories (repository, first_listed, last_listed) VALUES (?, ?, ?)
      ON CONFLICT (repository) DO UPDATE SET last_listed = excluded.last_listed`);
    this.addTagStmt = db.prepare('INSERT OR IGNORE INTO repository_tags (repository, tag, first_seen) VALUES (?, ?, ?)');
    this.removeTagStmt = db.prepare('DELETE FROM repository_tags WHERE repository = ? AND tag = ?');
    this.removeStmt = db.prepare('DELETE FROM repositories WHERE repository = ?');
  }

  get(repository: string): KnownRepository | undefined {
    const row = this.getStmt.get(repository) as { repository: string; first_listed: string } | undefined;
    if (row === undefined) return undefined;
    return { repository, firstListed: row.first_listed, tags: new Set(this.tagsStmt.all(repository) as string[]) };
  }

  /**
   * Every recorded listing, read in two queries: a run that lists many repositories asks for each,
   * and two queries per repository were a visible part of a run's CPU.
   */
  known(): Map<string, KnownRepository> {
    const out = new Map<string, KnownRepository>();
    for (const [repository, firstListed] of this.everyStmt.all() as Array<[string, string]>) out.set(repository, { repository, firstListed, tags: new Set() });
    for (const [repository, tag] of this.everyTagStmt.all() as Array<[string, string]>) out.get(repository)?.tags.add(tag);
    return out;
  }

  repositories(): string[] {
    return this.allStmt.all() as string[];
  }

  /** Call inside the run's transaction. */
  write(w: RepositoryWrite): void {
    this.upsertStmt.run(w.repository, w.at, w.at);
    for (const tag of w.added) this.addTagStmt.run(w.repository, tag, w.at);
    for (const tag of w.removed) this.removeTagStmt.run(w.repository, tag);
  }

  /** Forgets a repository and its tags. Returns whether it was known. */
  remove(repository: string): boolean {
    return this.removeStmt.run(repository).changes > 0;
  }
}
