/**
 * What GET /healthz answers. Healthy means the daemon can do its job: the scheduler is running, the
 * database takes writes, and runs finish. Each condition that fails is named in `reasons`.
 *
 * Before the first run has finished the answer is 200 with status "starting", not 503: a daemon
 * busy with a long first run (or waiting hours for its first scheduled one, without runOnStartup) is
 * working as intended, and an orchestrator must not restart it for that. A container's HEALTHCHECK
 * start period therefore only needs to cover process start-up, not the first run.
 */
import { accessSync, constants, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DB } from '../store/db.js';
import { errorMessage } from '../errors.js';

/** A run still going after this long is reported as stuck: every scheduled run is skipped meanwhile. */
export const STUCK_RUN_MS = 30 * 60_000;
/** Less free space than this in the database's folder: the next commit may fail. */
const MIN_FREE_BYTES = 1024 * 1024;
/** How long the write probe waits for another process's write lock. It blocks the event loop, so keep it short. */
const PROBE_BUSY_MS = 250;

/** Runs as serve sees them; survives config reloads (the scheduler object does not). */
export interface RunHistory {
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** Set when the last finished run threw; cleared by the next good run. */
  error: string | undefined;
  running: boolean;
  /** How many runs finished since start. */
  count: number;
}

export interface HealthInput {
  db: DB;
  /** The scheduler's next planned run; null when it is not running. */
  nextRun: Date | null;
  stopping: boolean;
  runs: RunHistory;
  now?: Date;
}

export interface HealthReport {
  status: 'ok' | 'starting' | 'unhealthy';
  reasons: string[];
  checks: { scheduler: string; database: string; lastRun: string };
  lastRunStartedAt: string | null;
  lastRunFinishedAt: string | null;
  nextRunAt: string | null;
}

export function health(input: HealthInput): HealthReport {
  const now = input.now ?? new Date();
  const reasons: string[] = [];

  let scheduler = 'ok';
  if (input.stopping) scheduler = 'stopping';
  else if (input.nextRun === null) scheduler = 'not running';
  if (scheduler !== 'ok') reasons.push(`scheduler: ${scheduler}`);

  const dbProblem = probeDatabase(input.db);
  if (dbProblem !== undefined) reasons.push(`database: ${dbProblem}`);

  const { runs } = input;
  let lastRun: string;
  if (runs.running && runs.startedAt !== undefined && now.getTime() - runs.startedAt.getTime() > STUCK_RUN_MS) {
    lastRun = `stuck: running since ${runs.startedAt.toISOString()}`;
    reasons.push(`last run: ${lastRun}`);
  } else if (runs.finishedAt === undefined) {
    lastRun = runs.running ? 'first run in progress' : 'no run yet';
  } else if (runs.error !== undefined) {
    lastRun = `failed: ${runs.error}`;
    reasons.push(`last run ${lastRun}`);
  } else {
    lastRun = 'ok';
  }

  const status = reasons.length > 0 ? 'unhealthy' : runs.finishedAt === undefined ? 'starting' : 'ok';
  return {
    status,
    reasons,
    checks: { scheduler, database: dbProblem ?? 'ok', lastRun },
    lastRunStartedAt: runs.startedAt?.toISOString() ?? null,
    lastRunFinishedAt: runs.finishedAt?.toISOString() ?? null,
    nextRunAt: input.nextRun?.toISOString() ?? null,
  };
}

/**
 * Can the database take a write now? Takes the write lock and lets it go (BEGIN IMMEDIATE; ROLLBACK:
 * nothing is written), and checks the file and its folder are writable and the disk is not full.
 * Undefined when all is well, else the problem in a few words.
 */
export function probeDatabase(db: DB): string | undefined {
  if (!db.open) return 'closed';
  const file = db.name;
  if (file !== ':memory:' && file !== '') {
    try {
      accessSync(file, constants.W_OK);
      accessSync(dirname(file), constants.W_OK);
    } catch (err) {
      return `not writable: ${fsReason(err)}`;
    }
    try {
      const fs = statfsSync(dirname(file));
      if (fs.bavail * fs.bsize < MIN_FREE_BYTES) return 'disk full';
    } catch {
      // statfs is best effort (not every file system answers it)
    }
  }
  const previous = Number(db.pragma('busy_timeout', { simple: true }));
  try {
    db.pragma(`busy_timeout = ${PROBE_BUSY_MS}`);
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return undefined;
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_BUSY') return 'locked by another process (writes would fail)';
    if (code === 'SQLITE_READONLY') return 'read-only';
    return errorMessage(err);
  } finally {
    db.pragma(`busy_timeout = ${Number.isFinite(previous) ? previous : 5000}`);
  }
}

function fsReason(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'file or folder missing';
  return errorMessage(err);
}
