import type { Column } from './columns';
import type { StatementRunner } from './statement-runner';
import type { SessionStatements, Statement } from './statements';

/** A kind's table as messages name it. */
function tableOf(options: { tableName: string; schema?: string }): string {
  return options.schema ? `${options.schema}.${options.tableName}` : options.tableName;
}

/** What a kind's missing table means, and where to read how to create it. */
export function missingTable(options: { tableName: string; schema?: string }): string {
  return (
    `the table "${tableOf(options)}" does not exist; create it with MikroORM's schema generator ` +
    `(orm.schema.updateSchema()) or a migration: see "Creating the table" in the README`
  );
}

/** What a missing column (42703) means: a feature turned on before its migration. */
export function missingColumn(options: { tableName: string; schema?: string }): string {
  return (
    `a column the kind's options need is missing from "${tableOf(options)}"; add it with the schema generator ` +
    `or a migration: see "Migrating an existing table" in the README`
  );
}

/**
 * The columns of `table` (quoted, schema-qualified: `to_regclass` takes it so) and
 * their types; no rows when the table does not exist.
 */
function tableColumnsStatement(table: string): Statement {
  return {
    sql:
      'SELECT attname AS "name", format_type(atttypid, atttypmod) AS "type" FROM pg_attribute ' +
      'WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped',
    params: [table],
  };
}

/**
 * The kind's table's columns, name → type: empty when the table does not exist,
 * `undefined` when the database cannot say (unreachable).
 */
export async function tableColumns(
  runner: StatementRunner,
  statements: SessionStatements,
): Promise<Map<string, string> | undefined> {
  try {
    const rows = await runner.run<Array<{ name: string; type: string }>>(tableColumnsStatement(statements.table));
    return new Map(rows.map((row) => [row.name, row.type]));
  } catch {
    return undefined;
  }
}

/**
 * What is wrong with the columns of the features a kind has on, one line each:
 * a column not yet added (every lookup would fail until a migration adds it),
 * or a time column of the naive `timestamp` type (written with the database's
 * clock, it would hold the server TimeZone's wall time, not UTC).
 */
export function featureColumnProblems(columns: ReadonlyMap<string, string>, features: readonly Column[]): string[] {
  const problems: string[] = [];
  for (const column of features) {
    const type = columns.get(column.field);
    if (type === undefined) problems.push(`column "${column.field}" is missing`);
    else if (column.type === 'datetime' && /^timestamp(\(\d+\))? without time zone/.test(type))
      problems.push(`column "${column.field}" is a timestamp without time zone; make it timestamptz`);
  }
  return problems;
}
