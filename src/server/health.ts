/**
 * What GET /healthz answers. Healthy means the daemon can do its job: the scheduler is running, the
 * database takes writes, and runs finish. Each condition that fails is named in `reasons`.
 *
 * Before the first run has finished the answer is 200 with status "starting", not 503: a daemon
 * busy with a long first run (or waiting hours for its first scheduled one, without runOnStartup) is
 * working as intended, and an orchestrator must not restart it for that. A container's HEALTHCHECK
 * start period therefore only needs to cover process start-up, not the first run.
 */

/** A run still going after this long is reported as stuck: every scheduled run is skipped meanwhile. */
export const STUCK_RUN_MS = 30 * 60_000;
/** Less free space than this in the database's folder: the next commit may fail. */
export const MIN_FREE_BYTES = 1024 * 1024;

/** Runs as serve sees them; survives config reloads (the scheduler object does not). */
export interface RunHistory {
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  /** Set when the last finished run threw; cleared by the next good run. */
  error: string | undefined;
  running: boolean;
  /** How many runs finished since start. */
  count: number;
  /** The sources the last run could not list, each as its one line (`source NAME: …`). */
  sourceErrors?: string[];
}

export interface HealthInput {
  /** Why the database cannot take a write now (Store.writeProblem), or undefined. */
  databaseProblem: string | undefined;
  /** The scheduler's next planned run; null when it is not running. */
  nextRun: Date | null;
  stopping: boolean;
  runs: RunHistory;
  now?: Date;
}

export interface HealthReport {
  status: 'ok' | 'starting' | 'unhealthy';
  reasons: string[];
  checks: { scheduler: string; database: string; lastRun: string; sources?: string };
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

  const dbProblem = input.databaseProblem;
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

  // A source the last run could not list is named, but does not make herald unhealthy: a restart
  // (what an orchestrator does to an unhealthy herald) cannot bring an engine or cluster back.
  const sourceErrors = runs.sourceErrors ?? [];

  const status = reasons.length > 0 ? 'unhealthy' : runs.finishedAt === undefined ? 'starting' : 'ok';
  return {
    status,
    reasons,
    checks: { scheduler, database: dbProblem ?? 'ok', lastRun, ...(runs.sourceErrors !== undefined ? { sources: sourceErrors.length === 0 ? 'ok' : `failed: ${sourceErrors.join('; ')}` } : {}) },
    lastRunStartedAt: runs.startedAt?.toISOString() ?? null,
    lastRunFinishedAt: runs.finishedAt?.toISOString() ?? null,
    nextRunAt: input.nextRun?.toISOString() ?? null,
  };
}
