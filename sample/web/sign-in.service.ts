import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { type Session, SessionsService } from 'nestjs-ecto-sessions';
import type { User } from '../users/user.entity';
import { type ClientInfo, clientInfo } from './client-info';
import { LAST_USER_COOKIE, writeCookie } from './cookies';
import { setFlash } from './flash';

const YEAR = 365 * 24 * 3600;

/** Starts a browser session: a new row, its token in the cookie, and the user id remembered. */
@Injectable()
export class SignInService {
  constructor(private readonly sessions: SessionsService<ClientInfo>) {}

  async signIn(req: Request, res: Response, user: User, message: string): Promise<Session<ClientInfo>> {
    const { session, token } = await this.sessions.create({ userId: user.id, data: clientInfo(req) });
    this.sessions.setCookie(res, token);
    writeCookie(res, LAST_USER_COOKIE, user.id, YEAR);
    // The token exists in plaintext only now: let the next page of this session show it, once.
    setFlash(res, { type: 'info', message, secret: { kind: 'session', sessionId: session.id, token } });
    return session;
  }
}
