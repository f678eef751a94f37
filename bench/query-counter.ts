import { dirname } from 'node:path';

/**
 * Statements sent by every `pg` client of this process. Counting at the driver,
 * under MikroORM, knex, connect-pg-simple and the plain pool alike, measures
 * every scenario the same way; MikroORM's query logger would charge the ORM
 * scenarios for formatting log lines the others never pay. Only one scenario
 * runs at a time, so a round's count over its requests is that scenario's
 * queries per request.
 */
export const queryCount = { value: 0 };

const PATCHED = Symbol('bench:counted');

/** Patches `Client.prototype.query` of every copy of `pg` MikroORM, knex or the bench may load. Idempotent. */
export function countQueries(): void {
  const copies = new Set<string>();
  for (const from of [__dirname, dirname(require.resolve('@mikro-orm/postgresql')), dirname(require.resolve('knex'))]) {
    try {
      copies.add(require.resolve('pg', { paths: [from] }));
    } catch {
      // no copy resolvable from there
    }
  }
  for (const path of copies) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a copy found at run time, by path
    const prototype = require(path).Client.prototype;
    if (prototype[PATCHED]) continue;
    const query = prototype.query;
    prototype.query = function (this: unknown, ...args: unknown[]) {
      queryCount.value++;
      return query.apply(this, args);
    };
    prototype[PATCHED] = true;
  }
}
