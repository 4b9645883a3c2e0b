import { describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import Database from '../../../src/store/driver.js';
import { writeProblem } from '../../../src/store/db.js';
import { health, STUCK_RUN_MS, type RunHistory } from '../../../src/server/health.js';
import { authorized, parseListen } from '../../../src/server/http.js';
import { healthUrl } from '../../../src/cli/health.js';

const idle: RunHistory = { startedAt: undefined, finishedAt: undefined, error: undefined, running: false, count: 0 };

describe('health', () => {
  const now = new Date('2026-11-27T12:00:00Z');
  const nextRun = new Date('2026-11-27T18:00:00Z');

  it('is "starting" until a run has finished, then ok', () => {
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: idle, now })).toMatchObject({ status: 'starting', reasons: [], checks: { lastRun: 'no run yet' } });
    const first = { ...idle, running: true, startedAt: now };
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: first, now }).checks.lastRun).toBe('first run in progress');
    const done = { ...idle, startedAt: now, finishedAt: now, count: 1 };
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: done, now })).toMatchObject({ status: 'ok', nextRunAt: nextRun.toISOString() });
  });

  it('is unhealthy when the last run failed, a run is stuck, or the scheduler is not running', () => {
    const failed = { ...idle, startedAt: now, finishedAt: now, error: 'cannot read include file', count: 1 };
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: failed, now })).toMatchObject({ status: 'unhealthy', reasons: ['last run failed: cannot read include file'] });
    const stuck = { ...idle, running: true, startedAt: new Date(now.getTime() - STUCK_RUN_MS - 1), finishedAt: new Date(now.getTime() - STUCK_RUN_MS - 10) };
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: stuck, now }).reasons).toEqual([expect.stringMatching(/^last run: stuck: running since /)]);
    expect(health({ databaseProblem: undefined, nextRun: null, stopping: false, runs: idle, now }).reasons).toEqual(['scheduler: not running']);
    expect(health({ databaseProblem: undefined, nextRun, stopping: true, runs: idle, now }).reasons).toEqual(['scheduler: stopping']);
  });

  it('names a source the last run could not list without turning unhealthy (a restart brings no engine back)', () => {
    const done = { ...idle, startedAt: now, finishedAt: now, count: 1 };
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: done, now }).checks.sources).toBeUndefined();
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: { ...done, sourceErrors: [] }, now })).toMatchObject({ status: 'ok', checks: { sources: 'ok' } });
    const failing = { ...done, sourceErrors: ['source local: cannot reach the Docker engine at unix:///var/run/docker.sock: no such socket'] };
    expect(health({ databaseProblem: undefined, nextRun, stopping: false, runs: failing, now })).toMatchObject({
      status: 'ok',
      reasons: [],
      checks: { sources: 'failed: source local: cannot reach the Docker engine at unix:///var/run/docker.sock: no such socket' },
    });
  });

  it('reports a closed database', () => {
    const closed = new Database(':memory:');
    closed.close();
    expect(health({ databaseProblem: writeProblem(closed), nextRun, stopping: false, runs: idle, now }).reasons).toEqual(['database: closed']);
  });
});

describe('bearer token', () => {
  const req = (authorization?: string) => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  it('accepts only the exact token, in any case of "Bearer"', () => {
    expect(authorized(req('Bearer s3cret'), 's3cret')).toBe(true);
    expect(authorized(req('bearer s3cret'), 's3cret')).toBe(true);
    for (const bad of [undefined, '', 'Bearer', 'Bearer ', 'Bearer s3cre', 'Bearer s3cretx', 'Basic s3cret', 's3cret', 'Bearer s3cret extra']) {
      expect(authorized(req(bad), 's3cret'), String(bad)).toBe(false);
    }
  });
  it('lets everything through when no token is configured', () => {
    expect(authorized(req(), undefined)).toBe(true);
  });
});

describe('listen addresses', () => {
  it('splits host and port, IPv6 included', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
  });
  it('asks an any-address server on loopback', () => {
    expect(healthUrl('0.0.0.0:8080')).toBe('http://127.0.0.1:8080/healthz');
    expect(healthUrl('[::]:8080')).toBe('http://[::1]:8080/healthz');
    expect(healthUrl('10.1.2.3:81')).toBe('http://10.1.2.3:81/healthz');
    expect(() => healthUrl(undefined)).toThrow(/server\.listen is not set/);
  });
});
