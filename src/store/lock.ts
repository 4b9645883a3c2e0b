/**
 * One writer per database: `serve` and `check` hold an exclusive lock on `<db>-lock` for as long as
 * they run, so a second one refuses to start instead of checking and notifying twice. Commands that
 * only read or make one small edit (`images`, `events`) take no lock and work while `serve` runs:
 * SQLite (WAL) keeps them consistent on its own.
 *
 * The lock is SQLite's own file lock (fcntl) on a small side database kept in exclusive locking
 * mode. The kernel drops it when the process ends in any way, SIGKILL and power loss included, so a
 * stale lock can never block a restart, and a reused pid (pid 1 in a container) cannot fool it.
 * The holder writes its pid into the side file's header (user_version, bytes 60-63), which a refused
 * process reads without SQLite to say who holds the lock.
 */
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { describeFsError } from './db.js';
import Database, { type DB } from './driver.js';

export interface WriterLock {
  /** The side file holding the lock. */
  readonly path: string;
  release(): void;
}

export function lockPathFor(dbPath: string): string {
  return `${resolve(dbPath)}-lock`;
}

/**
 * Takes the writer lock of the database at `dbPath`, or throws a one-line UserError naming the
 * process that holds it. `command` names the caller in that message ('serve', 'check').
 */
export function acquireWriterLock(dbPath: string, command: string): WriterLock | undefined {
  if (dbPath === ':memory:') return undefined;
  const file = resolve(dbPath);
  const path = lockPathFor(file);
  let db: DB;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new Database(path, { timeout: 0 });
  } catch (err) {
    throw new UserError(`cannot open database ${file}: ${describeFsError(err, file)}`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = DELETE');
    // The write makes the exclusive lock stick after COMMIT (locking_mode = EXCLUSIVE).
    db.exec('BEGIN EXCLUSIVE');
    db.pragma(`user_version = ${process.pid}`);
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      const pid = holderPid(path);
      const who = pid !== undefined ? `another herald process (pid ${pid})` : 'another herald process';
      throw new UserError(
        `database ${file} is in use by ${who}; herald ${command} needs it alone (stop the other serve/check first; images and events work alongside)`,
      );
    }
    throw new UserError(`cannot open database ${file}: ${describeFsError(err, file)}`);
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      try {
        db.close();
      } catch {
        // closing only drops the lock; nothing to report
      }
    },
  };
}

/** The pid the holder wrote into the SQLite header (user_version, big-endian at offset 60). */
function holderPid(path: string): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const header = Buffer.alloc(4);
    if (readSync(fd, header, 0, 4, 60) !== 4) return undefined;
    const pid = header.readUInt32BE(0);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
