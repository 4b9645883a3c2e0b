/**
 * Opens the SQLite database (better-sqlite3, WAL) and applies migrations/*.sql in order, each in its
 * own transaction, recording what was applied in schema_migrations.
 *
 * WAL with synchronous=NORMAL: a process crash never loses a committed transaction; a power loss may
 * roll back the last ones, but state, events and deliveries always roll back together, so a lost run
 * is simply detected again by the next one.
 */
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError, errorMessage } from '../util/errors.js';
import { packageRoot } from '../util/version.js';
import Database, { type DB } from './driver.js';

export type { DB } from './driver.js';

export const MIGRATIONS_DIR = join(packageRoot, 'migrations');

export interface OpenOptions {
  readonly?: boolean;
  migrationsDir?: string;
}

export function openDatabase(path: string, opts: OpenOptions = {}): DB {
  const file = path === ':memory:' ? path : resolve(path);
  let db: DB;
  try {
    if (file !== ':memory:' && !opts.readonly) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new UserError(`cannot open database ${file}: ${describeFsError(err, file)}`);
  }
  try {
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    if (!opts.readonly) migrate(db, opts.migrationsDir ?? MIGRATIONS_DIR);
  } catch (err) {
    db.close();
    if (err instanceof UserError) throw err;
    throw new UserError(`cannot use database ${file}: ${describeFsError(err, file)}`);
  }
  return db;
}

const NOT_WRITABLE = 'not writable (read-only file, folder or disk)';

/**
 * A filesystem or SQLite failure in words a user can act on. SQLite's own codes are vague about
 * the cause ("unable to open database file", "disk I/O error"), so with `file` the filesystem is
 * asked: a read-only mount, a missing folder, no space left.
 */
export function describeFsError(err: unknown, file?: string): string {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'disk full';
  if (code.startsWith('SQLITE_READONLY') || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return NOT_WRITABLE;
  if (code === 'SQLITE_NOTADB') return 'not a herald database (file is not SQLite)';
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_IOERR')) {
    const why = file !== undefined && file !== ':memory:' ? fsProblem(file, 0) : undefined;
    if (why !== undefined) return why;
    if (code.startsWith('SQLITE_CANTOPEN')) return 'cannot open the file (missing folder or no permission)';
    return `I/O error (${code})`;
  }
  return errorMessage(err);
}

function fsProblem(file: string, minFreeBytes: number): string | undefined {
  const dir = dirname(file);
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return `folder ${dir} does not exist`;
    return NOT_WRITABLE;
  }
  try {
    accessSync(file, constants.W_OK);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') return NOT_WRITABLE;
  }
  try {
    const fs = statfsSync(dir);
    if (fs.bavail === 0 || fs.bavail * fs.bsize < minFreeBytes) return 'disk full';
  } catch {
    // no statfs here: no more to say
  }
  return undefined;
}

/** How long the write probe waits for another process's write lock. It blocks the event loop, so keep it short. */
const PROBE_BUSY_MS = 250;

/**
 * Can the database take a write now? Undefined when it can, else the reason in a few words. Asks
 * the file system first (read-only file, folder or disk; less than `minFreeBytes` free), then
 * SQLite: it takes the write lock, sets user_version to its own value (a write that changes
 * nothing) and rolls back, so a database SQLite silently opened read-only, or one another process
 * holds locked, is found now rather than at the end of a run.
 */
export function writeProblem(db: DB, minFreeBytes = 0): string | undefined {
  if (!db.open) return 'closed';
  const file = db.name;
  if (file !== ':memory:' && file !== '') {
    const why = fsProblem(file, minFreeBytes);
    if (why !== undefined) return why;
  }
  const previous = Number(db.pragma('busy_timeout', { simple: true }));
  try {
    db.pragma(`busy_timeout = ${PROBE_BUSY_MS}`);
    db.exec('BEGIN IMMEDIATE');
    const version = Number(db.pragma('user_version', { simple: true }));
    db.pragma(`user_version = ${version}`);
    db.exec('ROLLBACK');
    return undefined;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') return 'locked by another process (writes would fail)';
    return describeFsError(err, file);
  } finally {
    db.pragma(`busy_timeout = ${Number.isFinite(previous) ? previous : 5000}`);
  }
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => ({ version: Number.parseInt(f, 10), name: f, sql: readFileSync(join(dir, f), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/** Applies pending migrations; returns the names applied now. */
export function migrate(db: DB, dir: string): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
  );
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const done: string[] = [];
  for (const m of readMigrations(dir)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    })();
    done.push(m.name);
  }
  return done;
}
