import { describeFsError, openDatabase, writeProblem, type DB, type OpenOptions } from './db.js';
import { UserError } from '../util/errors.js';
import { acquireWriterLock, type WriterLock } from './lock.js';
import { StateStore } from './state.js';
import { stateKey, type ImageState } from '../model/state.js';
import { containerReports, type ContainerReport } from '../model/container.js';
import { EventStore } from './events.js';
import { DeliveryStore } from './deliveries.js';
import { RepositoryStore, type RepositoryWrite } from './repositories.js';
import { ContainerStore, type ContainerWrite } from './containers.js';
import { ChallengeStore } from './challenges.js';
import type { HeraldEvent } from '../model/event.js';

export interface RunWrite {
  states: ImageState[];
  events: HeraldEvent[];
  deliveries: Array<{ id: string; notifier: string; eventIds: string[] }>;
  /** watchRepo: the tag lists seen in this run. */
  repositories?: RepositoryWrite[];
  /** watchRepo: states of tags no longer watched (gone from the repository or no longer selected). */
  removedStates?: Array<{ image: string; platform: string }>;
  /**
   * States whose only change is the time of this check (unchanged images, the usual case): one
   * statement for all of them instead of a full row rewrite each.
   */
  checked?: { at: string; keys: Array<[image: string, platform: string]> };
  /** Sources listed in this run: each one's containers replace what was stored for it. */
  containers?: ContainerWrite[];
  /** The configured sources: containers of any other (one taken out of the config) are forgotten. */
  sources?: readonly string[];
}

/** An image's state with the containers that run it (`images list`, `/api/images`). */
export type ImageView = ImageState & { containers?: ContainerReport[] };

/** The database and its table families, with the one write a run makes. */
export class Store {
  readonly state: StateStore;
  readonly events: EventStore;
  readonly deliveries: DeliveryStore;
  readonly repositories: RepositoryStore;
  readonly containers: ContainerStore;
  /** The registries' auth challenges as last pinged: a new process skips the ping while they are fresh. */
  readonly challenges: ChallengeStore;
  private readonly commitTx;

  constructor(
    readonly db: DB,
    private readonly lock?: WriterLock,
  ) {
    this.state = new StateStore(db);
    this.events = new EventStore(db);
    this.deliveries = new DeliveryStore(db);
    this.repositories = new RepositoryStore(db);
    this.containers = new ContainerStore(db);
    this.challenges = new ChallengeStore(db);
    this.commitTx = db.transaction((w: RunWrite, nowMs: number) => {
      for (const s of w.removedStates ?? []) this.state.remove(s.image, s.platform);
      for (const r of w.repositories ?? []) this.repositories.write(r);
      if (w.sources !== undefined) this.containers.retain(w.sources);
      for (const c of w.containers ?? []) this.containers.replace(c);
      for (const s of w.states) this.state.upsert(s);
      if (w.checked !== undefined && w.checked.keys.length > 0) this.state.touch(w.checked.at, w.checked.keys);
      for (const e of w.events) this.events.insert(e);
      for (const d of w.deliveries) this.deliveries.insert({ ...d, nowMs });
    });
  }

  /** `writer` takes the database's writer lock first (see lock.ts): 'serve' and 'check' do. */
  static open(path: string, opts?: OpenOptions & { writer?: string }): Store {
    const lock = opts?.writer !== undefined ? acquireWriterLock(path, opts.writer) : undefined;
    try {
      const db = openDatabase(path, opts);
      if (lock !== undefined) {
        const problem = writeProblem(db);
        if (problem !== undefined) {
          db.close();
          throw new UserError(`cannot write database ${path}: ${problem}`);
        }
      }
      return new Store(db, lock);
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** New state, its events and their deliveries (and watchRepo's tag lists) in one transaction: all of it lands, or none. */
  commitRun(write: RunWrite, nowMs = Date.now()): void {
    try {
      this.commitTx(write, nowMs);
    } catch (err) {
      // Rolled back: the state cache saw writes that did not land.
      this.state.invalidate();
      // A full or read-only disk is the user's to fix, not a bug: one line naming the file. The
      // transaction was rolled back, so the stored state is what it was before the run.
      if (String((err as { code?: unknown }).code ?? '').startsWith('SQLITE_')) {
        throw new UserError(`cannot write database ${this.db.name}: ${describeFsError(err, this.db.name)}`);
      }
      throw err;
    }
  }

  /** Every image's state; those that containers run carry them, each marked outdated or not. */
  imageViews(image?: string): ImageView[] {
    const states = image === undefined ? this.state.all() : this.state.byImage(image);
    const containers = image === undefined ? this.containers.all() : this.containers.byImage(image);
    const byKey = new Map<string, typeof containers>();
    for (const c of containers) {
      const key = stateKey(c.image, c.platform);
      byKey.set(key, [...(byKey.get(key) ?? []), c]);
    }
    return states.map((s) => {
      const running = byKey.get(stateKey(s.image, s.platform));
      if (running === undefined) return s;
      const reports = containerReports(running.map(({ image: _i, platform: _p, lastSeen: _l, ...c }) => c), s.digest, s.platformDigest);
      return { ...s, containers: reports };
    });
  }

  /** False once closed: readers that outlive a store (metrics between reloads) ask before reading. */
  get isOpen(): boolean {
    return this.db.open;
  }

  /**
   * Why the database cannot take a write now (read-only, locked by another process, less than
   * `minFreeBytes` free, closed), or undefined when it can. /healthz asks this on every call.
   */
  writeProblem(minFreeBytes?: number): string | undefined {
    return writeProblem(this.db, minFreeBytes);
  }

  /** Forgets these states and these repositories' tag lists, in one transaction (`images prune`). */
  forget(states: ReadonlyArray<{ image: string; platform: string }>, repositories: readonly string[]): void {
    this.db.transaction(() => {
      for (const s of states) this.state.remove(s.image, s.platform);
      for (const r of repositories) this.repositories.remove(r);
    })();
  }

  close(): void {
    if (this.db.open) this.db.close();
    this.lock?.release();
  }
}
