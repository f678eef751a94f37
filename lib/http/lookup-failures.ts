import { errorCode } from '../deadline';
import { missingColumn, missingTable } from '../store/table-check';

/** What to do about a failure whose cause is known: a missing table (42P01) or column (42703) is a set-up step not taken. */
export function hintFor(error: unknown, options: { tableName: string; schema?: string }): string {
  const code = errorCode(error);
  if (code === '42P01') return `: ${missingTable(options)}`;
  if (code === '42703') return `: ${missingColumn(options)}`;
  return '';
}

/** A loggable name for a failure: its class and code (e.g. `ECONNREFUSED`, `57P01`), never its message (it may quote the digest). */
export function failureKind(error: unknown): string {
  const name = (error as Error)?.name ?? typeof error;
  const code = errorCode(error);
  return code ? `${name} ${code}` : String(name);
}
