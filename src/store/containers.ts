/**
 * The containers the engine and cluster sources saw (migrations/003_containers.sql). A source's rows
 * are replaced as a whole by a run that listed it; a run whose listing of it failed leaves them.
 */
import type { DB } from './db.js';
import type { RunningContainer } from '../model/container.js';

export interface StoredContainer extends RunningContainer {
  image: string;
  platform: string;
  lastSeen: string;
}

/** One source's containers as a run listed them. */
export interface ContainerWrite {
  source: string;
  at: string;
  containers: Array<RunningContainer & { image: string; platform: string }>;
}

interface Row {
  source: string;
  id: string;
  name: string;
  namespace: string | null;
  image: string;
  platform: string;
  running_digest: string | null;
  last_seen: string;
}

function fromRow(r: Row): StoredContainer {
  return {
    source: r.source,
    name: r.name,
    id: r.id,
    ...(r.namespace !== null ? { namespace: r.namespace } : {}),
    runningDigest: r.running_digest,
    image: r.image,
    platform: r.platform,
    lastSeen: r.last_seen,
  };
}

export class ContainerStore {
  private readonly clearStmt;
  private readonly insertStmt;
  private readonly allStmt;
  private readonly byImageStmt;
  private readonly sourcesStmt;

  constructor(db: DB) {
    this.clearStmt = db.prepare('DELETE FROM containers WHERE source = ?');
    this.insertStmt = db.prepare(`INSERT OR REPLACE INTO containers (source, id, name, namespace, image, platform, running_digest, last_seen)
      VALUES (@source, @id, @name, @namespace, @image, @platform, @runningDigest, @at)`);
    this.allStmt = db.prepare('SELECT * FROM containers ORDER BY image, platform, source, name');
    this.byImageStmt = db.prepare('SELECT * FROM containers WHERE image = ? ORDER BY platform, source, name');
    this.sourcesStmt = db.prepare('SELECT DISTINCT source FROM containers').pluck();
  }

  /** Replaces one source's rows. Run it inside a transaction. */
  replace(write: ContainerWrite): void {
    this.clearStmt.run(write.source);
    for (const c of write.containers) {
      this.insertStmt.run({ ...c, namespace: c.namespace ?? null, at: write.at });
    }
  }

  /** Forgets the containers of every source not named (a source taken out of the config). */
  retain(sources: readonly string[]): void {
    for (const source of this.sourcesStmt.all() as string[]) if (!sources.includes(source)) this.clearStmt.run(source);
  }

  all(): StoredContainer[] {
    return (this.allStmt.all() as Row[]).map(fromRow);
  }

  byImage(image: string): StoredContainer[] {
    return (this.byImageStmt.all(image) as Row[]).map(fromRow);
  }
}
