import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { SESSION_REQUEST_KEY } from '../sessions.constants';

/**
 * The session `@Authenticated()` found, or one property of it; `undefined` on an
 * optional route without a session.
 *
 * @example
 * me(@CurrentSession() session: Session, @CurrentSession('userId') userId: string) {}
 */
export const CurrentSession = createParamDecorator((property: string | undefined, context: ExecutionContext) => {
  const session = context.switchToHttp().getRequest()?.[SESSION_REQUEST_KEY];
  return property ? session?.[property] : session;
});
