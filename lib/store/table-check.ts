import type { StatementRunner } from './statement-runner';
import type { SessionStatements } from './statements';
import type { Column } from './columns';

/** What a kind's missing table means, and where to read how to create it. */
export function missingTable(options: { tableName: string; schema?: string }): string {
  const table = options.schema ? `${options.schema}.${options.tableName}` : options.tableName;
  return (
    `the table "${table}" does not exist; create it with MikroORM's schema generator ` +
    `(orm.schema.updateSchema()) or a migration: see "Creating the table" in the README`
  );
}

/** What a missing column (42703) means: a feature turned on before its migration. */
export function missingColumn(options: { tableName: string; schema?: string }): string {
  const table = options.schema ? `${options.schema}.${options.tableName}` : options.tableName;
  return (
    `a column the kind's options need is missing from "${table}"; add it with the schema generator ` +
    `or a migration: see "Migrating an existing table" in the README`
  );
}

/** Whether the kind's table exists; `undefined` when the database cannot say (unreachable). */
export async function tableExists(
  runner: StatementRunner,
  statements: SessionStatements,
): Promise<boolean | undefined> {
  try {
    const [row] = await runner.run<Array<{ exists: boolean }>>(statements.tableExists());
    return row?.exists === true;
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with the columns of the features a kind has on, one line each:
 * a column not yet added (every lookup would fail until a migration adds it),
 * or a time column of the naive `timestamp` type (written with the database's
 * clock, it would hold the server TimeZone's wall time, not UTC). Empty when all
 * is well or the database cannot say.
 */
export async function featureColumnProblems(
  runner: StatementRunner,
  statements: SessionStatements,
  features: readonly Column[],
): Promise<string[]> {
  if (features.length === 0) return [];
  try {
    const rows = await runner.run<Array<{ name: string; type: string }>>({
      sql:
        'SELECT attname AS "name", format_type(atttypid, atttypmod) AS "type" FROM pg_attribute ' +
        'WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped',
      params: [statements.table],
    });
    if (rows.length === 0) return []; // no table: said elsewhere
    const types = new Map(rows.map((row) => [row.name, row.type]));
    const problems: string[] = [];
    for (const column of features) {
      const type = types.get(column.field);
      if (type === undefined) problems.push(`column "${column.field}" is missing`);
      else if (column.type === 'datetime' && /^timestamp(\(\d+\))? without time zone/.test(type))
        problems.push(`column "${column.field}" is a timestamp without time zone; make it timestamptz`);
    }
    return problems;
  } catch {
    return [];
  }
}
