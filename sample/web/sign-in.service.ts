import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { type Session, SessionsService } from 'nestjs-ecto-sessions';
import { MAX_SESSIONS_PER_USER } from '../sessions.config';
import type { User } from '../users/user.entity';
import { type ClientInfo, clientInfo } from './client-info';
import { LAST_USER_COOKIE, writeCookie } from './cookies';
import { describeDevice } from './device';
import { setFlash } from './flash';
import { formatDate } from './view-helpers';

const YEAR = 365 * 24 * 3600;

/** Starts a browser session: a new row, its token in the cookie, and the user id remembered. */
@Injectable()
export class SignInService {
  constructor(private readonly sessions: SessionsService<ClientInfo>) {}

  async signIn(req: Request, res: Response, user: User, message: string): Promise<Session<ClientInfo>> {
    // At the cap (`maxPerUser`), the library expires the oldest sessions to make room and says which.
    const { session, token, expired } = await this.sessions.create({ userId: user.id, data: clientInfo(req) });
    this.sessions.setCookie(res, token);
    writeCookie(res, LAST_USER_COOKIE, user.id, YEAR);
    // The token exists in plaintext only now: let the next page of this session show it, once.
    setFlash(res, {
      type: 'info',
      message: message + signedOut(expired ?? []),
      secret: { kind: 'session', sessionId: session.id, token },
    });
    return session;
  }
}

/** " … so the oldest, Firefox on Linux (127.0.0.1, signed in …), was signed out.", or nothing. */
function signedOut(expired: Session<ClientInfo>[]): string {
  if (expired.length === 0) return '';
  const devices = expired
    .map(
      (s) =>
        `${describeDevice(s.data.userAgent)} (${s.data.ip || 'unknown IP'}, signed in ${formatDate(s.insertedAt)})`,
    )
    .join(', ');
  const which = expired.length === 1 ? 'the oldest session was' : `the ${expired.length} oldest sessions were`;
  return ` You can be signed in on at most ${MAX_SESSIONS_PER_USER} devices, so ${which} signed out: ${devices}.`;
}
