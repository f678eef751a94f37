import { MikroORM, type Options } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';

/** Whether tests run on embedded PGlite (one connection at a time) rather than a real server. */
export const onPglite = (): boolean => process.env.TEST_DATABASE_KIND === 'pglite';

/** Every SQL statement the ORM sends, as its logger reports it, for counting. */
export class QueryLog {
  readonly statements: string[] = [];
  readonly logger = (message: string): void => {
    if (message.startsWith('[query]')) this.statements.push(message.replace(/^\[query\]\s*/, ''));
  };
  clear(): void {
    this.statements.length = 0;
  }
  matching(pattern: RegExp): string[] {
    return this.statements.filter((s) => pattern.test(s));
  }
}

/** MikroORM options for the test database (`DATABASE_URL`, set by the global setup). */
export function ormOptions(log?: QueryLog, extra: Partial<Options> = {}): Options & { autoLoadEntities?: boolean } {
  return {
    driver: PostgreSqlDriver,
    clientUrl: process.env.DATABASE_URL,
    pool: { min: 0, max: onPglite() ? 1 : 10 },
    debug: log ? ['query'] : false,
    logger: log?.logger,
    colors: false,
    allowGlobalContext: true,
    discovery: { warnWhenNoEntities: false },
    ...extra,
  } as Options;
}

/** Drops and re-creates the tables of the given entities. */
export async function recreateTables(orm: MikroORM): Promise<void> {
  await orm.schema.dropSchema({ wrap: false });
  await orm.schema.createSchema({ wrap: false });
}

/** Runs raw SQL on the test database. */
export async function sql<T = Record<string, unknown>>(
  orm: MikroORM,
  query: string,
  params: unknown[] = [],
): Promise<T[]> {
  return orm.em.getConnection().execute(query, params, 'all');
}

/** Pool options whose every new connection first runs `statement` (a session setting, such as a time zone). */
export function poolRunning(statement: string, max: number) {
  return {
    min: 0,
    max,
    afterCreate: (conn: any, done: any) => conn.query(statement, (e: Error) => done(e, conn)),
  } as never;
}

/**
 * Counts, by a trigger, the writes that land on `column` of `table` (each row
 * version whose value changed): how many of many racing UPDATEs wrote. Returns
 * the count for a row id, and a function that removes the trigger.
 */
export async function countColumnWrites(
  orm: MikroORM,
  table: string,
  column: string,
): Promise<{ writes(id: string): Promise<number>; stop(): Promise<void> }> {
  const name = `count_${table}_${column}`;
  await sql(orm, `CREATE TABLE IF NOT EXISTS ${name} (id uuid, at timestamptz)`);
  await sql(
    orm,
    `CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger AS $$ BEGIN
       IF NEW.${column} IS DISTINCT FROM OLD.${column} THEN INSERT INTO ${name} VALUES (NEW.id, now()); END IF;
       RETURN NEW; END $$ LANGUAGE plpgsql`,
  );
  await sql(orm, `DROP TRIGGER IF EXISTS ${name} ON ${table}`);
  await sql(orm, `CREATE TRIGGER ${name} AFTER UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  return {
    writes: async (id) =>
      (await sql<{ n: number }>(orm, `SELECT count(*)::int AS n FROM ${name} WHERE id = ?`, [id]))[0].n,
    stop: async () => void (await sql(orm, `DROP TRIGGER IF EXISTS ${name} ON ${table}`)),
  };
}
