import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * better-sqlite3 12 aborts the whole process on Node >= 24.19 when the garbage collector finalizes
 * a statement or database outside a JS context (src/store/driver.ts explains why herald picks
 * better-sqlite3 13 on Node 22 and later). The condition is reproduced here in a child process on
 * the Node running this suite (CI runs the suite on Node 20 and on the image's Node 24): tens of
 * thousands of statements and hundreds of databases left to the GC, on the main thread and in a worker
 * thread that ends while they are still garbage, then forced collections (synchronous, and a major GC
 * run from a platform task, outside any JS context), an idle wait, and a natural exit with garbage left.
 * An abort shows as SIGABRT / exit 134 and "Assertion failed" on stderr.
 */
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'herald-sqlite-gc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const script = `
import { Worker, isMainThread, workerData } from 'node:worker_threads';
const driver = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/store/driver.js')).href)});
const { openDatabase } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/store/db.js')).href)});
const { Store } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/store/index.js')).href)});
const Database = driver.default;

function churn(file, rounds) {
  const db = openDatabase(file);
  db.exec('CREATE TABLE IF NOT EXISTS gc_probe (n INTEGER)');
  let statements = 0;
  for (let i = 0; i < rounds; i++) {
    db.prepare('SELECT ? + ' + (i % 97)).get(i); // a new statement each time, never kept
    statements++;
    if (i % 50 === 0) {
      db.pragma('user_version', { simple: true }); // better-sqlite3 prepares one inside
      db.transaction((n) => db.prepare('INSERT INTO gc_probe VALUES (?)').run(n))(i);
      statements += 2;
    }
    if (i % 100 === 0) {
      const other = new Database(':memory:'); // a database object left open to the GC
      other.prepare('SELECT 1').get();
    }
  }
  return { db, statements };
}

if (isMainThread) {
  const file = process.argv[2];
  // herald's own store, used the way a run uses it, then left to the GC too.
  Store.open(file + '.store').close();
  const worker = new Worker(new URL(import.meta.url), { workerData: file + '.worker' });
  const workerExit = new Promise((resolve) => worker.on('exit', resolve));
  const { db, statements } = churn(file, 20000);
  globalThis.gc();
  await globalThis.gc({ type: 'major', execution: 'async' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const workerCode = await workerExit;
  globalThis.gc();
  churn(file, 2000); // garbage left for teardown, database not closed
  db.close();
  process.stdout.write(JSON.stringify({ node: process.versions.node, driver: driver.DRIVER_PACKAGE, version: driver.driverVersion(), statements, workerCode }) + '\\n');
} else {
  churn(workerData, 5000);
  globalThis.gc();
  await globalThis.gc({ type: 'major', execution: 'async' });
  churn(workerData, 2000); // the worker's environment ends with these still garbage
}
`;

describe('SQLite driver under the garbage collector', () => {
  it(`survives statements and databases left to the GC, forced collections and exit on Node ${process.versions.node}`, () => {
    const file = join(dir, 'probe.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--expose-gc', file, join(dir, 'probe.db')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toContain('Assertion failed');
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    const out = JSON.parse(r.stdout.trim()) as { node: string; driver: string; version: string; statements: number; workerCode: number };
    expect(out.node).toBe(process.versions.node);
    expect(out.statements).toBeGreaterThan(20000);
    expect(out.workerCode).toBe(0);
    // The driver herald picks: better-sqlite3 13 (Node-API) where it runs, 12 only on Node 20.
    const major = Number(process.versions.node.split('.')[0]);
    expect(out.driver).toBe(major >= 22 ? 'better-sqlite3-13' : 'better-sqlite3');
    expect(out.version.split('.')[0]).toBe(major >= 22 ? '13' : '12');
  });
});
