import type { DB } from './db.js';
import type { HeraldEvent } from '../model/event.js';

export class EventStore {
  private readonly insertStmt;
  private readonly recentStmt;
  private readonly recentForImageStmt;
  private readonly byIdStmt;

  constructor(db: DB) {
    this.insertStmt = db.prepare(
      'INSERT INTO events (id, status, image, platform, detected_at, payload) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.recentStmt = db.prepare('SELECT payload FROM events ORDER BY seq DESC LIMIT ?');
    this.recentForImageStmt = db.prepare('SELECT payload FROM events WHERE image = ? ORDER BY seq DESC LIMIT ?');
    this.byIdStmt = db.prepare('SELECT payload FROM events WHERE id = ?');
  }

  insert(e: HeraldEvent): void {
    this.insertStmt.run(e.id, e.status, e.image, e.platform, e.detectedAt, JSON.stringify(e));
  }

  /** Newest first. */
  recent(limit: number, image?: string): HeraldEvent[] {
    const rows = (image === undefined ? this.recentStmt.all(limit) : this.recentForImageStmt.all(image, limit)) as Array<{ payload: string }>;
    return rows.map((r) => JSON.parse(r.payload) as HeraldEvent);
  }

  get(id: string): HeraldEvent | undefined {
    const row = this.byIdStmt.get(id) as { payload: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.payload) as HeraldEvent);
  }
}
