import type { ResolvedSessionsOptions } from '../options/options.interface';
import type { Session } from '../store/session.entity';
import { assertData, checkScopes, describeValue, isPlainObject } from '../store/values';
import type { CreateSessionAttrs } from './filters.interface';

/** A session or its id. */
export type SessionOrId = Session | string;

/** What `create` gives: the session, its token (the only copy of the plaintext) and, with `maxPerUser`, the sessions it expired. */
export interface Created<Data extends object = Record<string, any>> {
  session: Session<Data>;
  token: string;
  /** With `maxPerUser` (`expireOldest`): the user's oldest sessions this creation expired to make room (often none). */
  expired?: Session<Data>[];
}

/**
 * The attributes of `create` or `update`, checked: a plain object of `data`,
 * the kind's extra columns and, with `scopes: true`, `scopes` (given back without repeats).
 */
export function checkAttributes<A extends CreateSessionAttrs<any>>(
  method: 'create' | 'update',
  attrs: A,
  options: Pick<ResolvedSessionsOptions, 'columns' | 'scopes'>,
): A {
  if (!isPlainObject(attrs))
    throw new TypeError(`${method}: attributes must be a plain object, got ${describeValue(attrs)}`);
  const { data, scopes, ...columns } = attrs;
  if (data !== undefined) assertData(method, data);
  for (const key of Object.keys(columns)) {
    if (!(key in options.columns)) {
      const known = ['data', ...(options.scopes ? ['scopes'] : []), ...Object.keys(options.columns)];
      throw new TypeError(`${method}: unknown attribute "${key}"; known: ${known.join(', ')}`);
    }
  }
  if (scopes === undefined) return attrs;
  if (!options.scopes) throw new TypeError(`${method}: attribute "scopes" needs the kind's option scopes: true`);
  return { ...attrs, scopes: checkScopes(method, scopes) };
}

/** The id of a session or an id, for the methods that take either. */
export function idOf(method: string, session: unknown): string {
  if (typeof session === 'string') return session;
  if (typeof session === 'object' && session !== null && typeof (session as Session).id === 'string') {
    return (session as Session).id;
  }
  throw new TypeError(`${method}: expected a session or its id, got ${describeValue(session)}`);
}
