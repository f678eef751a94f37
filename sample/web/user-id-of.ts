import { UnauthorizedException } from '@nestjs/common';
import type { Session } from 'nestjs-ecto-sessions';

/**
 * The user a session belongs to. Every session here has one; a missing one
 * must never become a filter without `userId`, which would reach everyone's rows.
 */
export function userIdOf(session: Session): string {
  if (!session.userId) throw new UnauthorizedException();
  return session.userId;
}
