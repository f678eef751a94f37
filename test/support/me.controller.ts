import { Controller, Get } from '@nestjs/common';
import { Authenticated, CurrentSession, type Session } from '../../lib';

/** `/me` needs a session; `/maybe` takes one if sent. Both answer with what the guard found. */
@Controller()
export class MeController {
  @Authenticated()
  @Get('me')
  me(@CurrentSession() session: Session) {
    return { id: session.id, userId: session.userId, data: session.data };
  }

  @Authenticated({ optional: true })
  @Get('maybe')
  maybe(@CurrentSession('userId') userId?: string) {
    return { userId: userId ?? null };
  }
}
