import { openDatabase, type DB, type OpenOptions } from './db.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import { StateStore, type ImageState } from './state.js';
import { EventStore } from './events.js';
import { DeliveryStore } from './deliveries.js';
import type { HeraldEvent } from '../watch/event.js';

export interface RunWrite {
  states: ImageState[];
  events: HeraldEvent[];
  deliveries: Array<{ id: string; notifier: string; eventIds: string[] }>;
}

/** The database and its table families, with the one write a run makes. */
export class Store {
  readonly state: StateStore;
  readonly events: EventStore;
  readonly deliveries: DeliveryStore;
  private readonly commitTx;

  constructor(
    readonly db: DB,
    private readonly lock?: WriterLock,
  ) {
    this.state = new StateStore(db);
    this.events = new EventStore(db);
    this.deliveries = new DeliveryStore(db);
    this.commitTx = db.transaction((w: RunWrite, nowMs: number) => {
      for (const s of w.states) this.state.upsert(s);
      for (const e of w.events) this.events.insert(e);
      for (const d of w.deliveries) this.deliveries.insert({ ...d, nowMs });
    });
  }

  /** `writer` takes the database's writer lock first (see lock.ts): 'serve' and 'check' do. */
  static open(path: string, opts?: OpenOptions & { writer?: string }): Store {
    const lock = opts?.writer !== undefined ? acquireWriterLock(path, opts.writer) : undefined;
    try {
      return new Store(openDatabase(path, opts), lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** New state, its events and their deliveries in one transaction: all of it lands, or none. */
  commitRun(write: RunWrite, nowMs = Date.now()): void {
    this.commitTx(write, nowMs);
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.lock?.release();
  }
}
