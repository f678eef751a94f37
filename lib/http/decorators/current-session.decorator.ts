import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { getCurrentSession } from '../authenticated.guard';

/**
 * The session `@Authenticated()` found, or one property of it; `undefined` on an
 * optional route without a session. Works on HTTP and, with a guard subclass
 * that overrides `getRequest`, on GraphQL.
 *
 * @example
 * me(@CurrentSession() session: Session, @CurrentSession('userId') userId: string) {}
 */
export const CurrentSession = createParamDecorator((property: string | undefined, context: ExecutionContext) => {
  const session = getCurrentSession(context) as Record<string, unknown> | undefined;
  return property ? session?.[property] : session;
});
