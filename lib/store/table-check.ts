import type { StatementRunner } from './statement-runner';
import type { SessionStatements } from './statements';

/** What a kind's missing table means, and where to read how to create it. */
export function missingTable(options: { tableName: string; schema?: string }): string {
  const table = options.schema ? `${options.schema}.${options.tableName}` : options.tableName;
  return (
    `the table "${table}" does not exist; create it with MikroORM's schema generator ` +
    `(orm.schema.updateSchema()) or a migration: see "Creating the table" in the README`
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
