import type { DB } from './db.js';

export type DeliveryStatus = 'pending' | 'sent' | 'failed';

/** One message to one notifier, carrying one event, or a run's events for a batch notifier. */
export interface Delivery {
  id: string;
  notifier: string;
  status: DeliveryStatus;
  attempts: number;
  createdAtMs: number;
  nextAttemptAtMs: number;
  sentAtMs: number | null;
  lastError: string | null;
  eventIds: string[];
}

interface Row {
  id: string;
  notifier: string;
  status: DeliveryStatus;
  attempts: number;
  created_at_ms: number;
  next_attempt_at_ms: number;
  sent_at_ms: number | null;
  last_error: string | null;
  event_ids: string | null;
}

function fromRow(r: Row): Delivery {
  return {
    id: r.id,
    notifier: r.notifier,
    status: r.status,
    attempts: r.attempts,
    createdAtMs: r.created_at_ms,
    nextAttemptAtMs: r.next_attempt_at_ms,
    sentAtMs: r.sent_at_ms,
    lastError: r.last_error,
    eventIds: r.event_ids === null ? [] : r.event_ids.split(','),
  };
}

const SELECT = `SELECT d.*, (SELECT group_concat(event_id) FROM delivery_events de WHERE de.delivery_id = d.id) AS event_ids FROM deliveries d`;

export class DeliveryStore {
  private readonly insertStmt;
  private readonly linkStmt;
  private readonly dueStmt;
  private readonly countsStmt;
  private readonly forEventStmt;
  private readonly markSentStmt;
  private readonly markRetryStmt;
  private readonly markFailedStmt;
  private readonly nextDueStmt;
  private readonly openByImageStmt;

  constructor(db: DB) {
    this.insertStmt = db.prepare(
      `INSERT INTO deliveries (id, notifier, status, attempts, created_at_ms, next_attempt_at_ms) VALUES (?, ?, 'pending', 0, ?, ?)`,
    );
    this.linkStmt = db.prepare('INSERT INTO delivery_events (delivery_id, event_id) VALUES (?, ?)');
    this.dueStmt = db.prepare(`${SELECT} WHERE d.status = 'pending' AND d.next_attempt_at_ms <= ? ORDER BY d.next_attempt_at_ms, d.created_at_ms LIMIT ?`);
    this.countsStmt = db.prepare(`SELECT status, count(*) AS n FROM deliveries GROUP BY status`);
    this.forEventStmt = db.prepare(`${SELECT} WHERE d.id IN (SELECT delivery_id FROM delivery_events WHERE event_id = ?) ORDER BY d.notifier`);
    this.markSentStmt = db.prepare(`UPDATE deliveries SET status = 'sent', attempts = attempts + 1, sent_at_ms = ?, last_error = NULL WHERE id = ?`);
    this.markRetryStmt = db.prepare(`UPDATE deliveries SET attempts = attempts + 1, next_attempt_at_ms = ?, last_error = ? WHERE id = ?`);
    this.nextDueStmt = db.prepare(`SELECT min(next_attempt_at_ms) AS at FROM deliveries WHERE status = 'pending'`);
    // A batch delivery counts once for each image among its events (DISTINCT: once per image however many of its events).
    this.openByImageStmt = db.prepare(`SELECT e.image, e.platform,
        count(DISTINCT CASE WHEN d.status = 'pending' THEN d.id END) AS pending,
        count(DISTINCT CASE WHEN d.status = 'failed' THEN d.id END) AS failed
      FROM deliveries d JOIN delivery_events de ON de.delivery_id = d.id JOIN events e ON e.id = de.event_id
      WHERE d.status IN ('pending', 'failed') GROUP BY e.image, e.platform`);
    this.markFailedStmt = db.prepare(`UPDATE deliveries SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?`);
  }

  /** Must run inside the transaction that inserts the events (see watch/run.ts). */
  insert(d: { id: string; notifier: string; eventIds: string[]; nowMs: number }): void {
    this.insertStmt.run(d.id, d.notifier, d.nowMs, d.nowMs);
    for (const eventId of d.eventIds) this.linkStmt.run(d.id, eventId);
  }

  due(nowMs: number, limit = 100): Delivery[] {
    return (this.dueStmt.all(nowMs, limit) as Row[]).map(fromRow);
  }

  /** When the earliest pending delivery is due, or undefined when nothing is pending. */
  nextDueAt(): number | undefined {
    return (this.nextDueStmt.get() as { at: number | null }).at ?? undefined;
  }

  forEvent(eventId: string): Delivery[] {
    return (this.forEventStmt.all(eventId) as Row[]).map(fromRow);
  }

  counts(): Record<DeliveryStatus, number> {
    const out: Record<DeliveryStatus, number> = { pending: 0, sent: 0, failed: 0 };
    for (const r of this.countsStmt.all() as Array<{ status: DeliveryStatus; n: number }>) out[r.status] = r.n;
    return out;
  }

  /**
   * Pending and failed deliveries per image and platform, in one query (/api/images asks on every
   * request). Images with neither are absent. 5000 images, each with a pending and a failed
   * delivery: about 18 ms (test/unit/server/api-images-data.test.ts prints it).
   */
  openByImage(): Array<{ image: string; platform: string; pending: number; failed: number }> {
    return this.openByImageStmt.all() as Array<{ image: string; platform: string; pending: number; failed: number }>;
  }

  markSent(id: string, nowMs: number): void {
    this.markSentStmt.run(nowMs, id);
  }

  markRetry(id: string, nextAttemptAtMs: number, error: string): void {
    this.markRetryStmt.run(nextAttemptAtMs, error, id);
  }

  markFailed(id: string, error: string): void {
    this.markFailedStmt.run(error, id);
  }
}

/** How long a delivery waited (until sent, or until now while pending) and how it went. */
export function deliveryView(d: Delivery, now = Date.now()) {
  return {
    id: d.id,
    notifier: d.notifier,
    status: d.status,
    attempts: d.attempts,
    waitMs: (d.sentAtMs ?? now) - d.createdAtMs,
    sentAt: d.sentAtMs === null ? null : new Date(d.sentAtMs).toISOString(),
    nextAttemptAt: d.status === 'pending' ? new Date(d.nextAttemptAtMs).toISOString() : null,
    lastError: d.lastError,
  };
}
