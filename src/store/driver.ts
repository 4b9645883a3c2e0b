/**
 * The SQLite driver, chosen by Node major: better-sqlite3 13 on Node 22 and later, better-sqlite3 12
 * on Node 20. Every part of herald (and its tests) opens databases through this module, never through
 * 'better-sqlite3' itself.
 *
 * Why two majors:
 *  - better-sqlite3 12 builds its Database and Statement on node::ObjectWrap. From Node 24.19, the
 *    destructor of an ObjectWrap asks the current JS context for its Node environment; when the
 *    garbage collector finalizes a statement while no context is entered (a GC run from a platform
 *    task, or at teardown), that lookup fails and Node aborts the process ("Assertion failed: (env)
 *    != nullptr" in node::RemoveEnvironmentCleanupHook). Not a JS error: no handler can catch it.
 *  - better-sqlite3 13 is written on Node-API (node-addon-api), which has no such destructor path,
 *    and ships prebuilt binaries inside the npm package (no compile, no download at install). It
 *    needs Node 22 or later and segfaults on Node 20.
 *  - So 13 where it runs, 12 where 13 does not. Both are regular dependencies ("better-sqlite3-13" is
 *    an npm alias of better-sqlite3@13), same API, same SQLite file format. Keeping every statement
 *    alive instead would have to cover better-sqlite3's own internal statements (pragma(),
 *    transaction()) and every Database object, and one missed call would bring the abort back.
 * The container image runs Node 24 and ships only 13 (the Dockerfile removes 12).
 */
import type BetterSqlite3 from 'better-sqlite3';
import { createRequire } from 'node:module';
import { UserError } from '../util/errors.js';

const require = createRequire(import.meta.url);

/** The Node major this process runs on. */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The package the driver comes from on this Node. */
export const DRIVER_PACKAGE = NODE_MAJOR >= 22 ? 'better-sqlite3-13' : 'better-sqlite3';

function load(): typeof BetterSqlite3 {
  try {
    return require(DRIVER_PACKAGE) as typeof BetterSqlite3;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new UserError(`herald needs the npm package ${DRIVER_PACKAGE} on Node ${NODE_MAJOR}, and it is not installed: run npm ci`);
    }
    throw err;
  }
}

/** better-sqlite3's Database constructor for this Node. */
const Database: typeof BetterSqlite3 = load();
export default Database;

/** A database handle (the same API in both majors). */
export type DB = BetterSqlite3.Database;

/** The driver's version, e.g. "13.2.0" (for `herald --version`-style reports and tests). */
export function driverVersion(): string {
  return (require(`${DRIVER_PACKAGE}/package.json`) as { version: string }).version;
}
