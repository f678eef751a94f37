import type { Where } from '../store/statements';
import type { KindParts } from './kind-parts';

/**
 * Deletes the kind's rows `where` matches; returns how many. When someone listens
 * to `deleted`, the rows come back to report each one; else only their count.
 */
export async function deleteWhere(parts: KindParts, kind: string, where: Where): Promise<number> {
  if (!parts.events.listens('deleted')) {
    const result = await parts.runner.run<{ affectedRows: number }>(parts.statements.delete(where), 'run');
    return result.affectedRows;
  }
  const rows = await parts.runner.run<Record<string, unknown>[]>(parts.statements.delete(where, true));
  for (const row of rows) parts.events.emit('deleted', { kind, session: parts.rows.toSession(row) });
  return rows.length;
}
