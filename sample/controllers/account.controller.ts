import {
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  Post,
  Render,
  Req,
  Res,
  UnauthorizedException,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  Authenticated,
  CurrentSession,
  InjectSessions,
  parseDuration,
  type Session,
  SessionsService,
} from 'nestjs-ecto-sessions';
import { API_KEYS, MAX_SESSIONS_PER_USER, RECENT_LOGIN } from '../sessions.config';
import { UsersService } from '../users/users.service';
import type { ClientInfo } from '../web/client-info';
import { describeDevice } from '../web/device';
import { flashSecret, setFlash } from '../web/flash';
import { PageExceptionFilter } from '../web/page-exception.filter';
import { redirect } from '../web/redirect';
import { SignInService } from '../web/sign-in.service';
import { userIdOf } from '../web/user-id-of';

/** The current user and every session they have, with the actions on them. */
@Controller('account')
@Authenticated()
@UseFilters(PageExceptionFilter)
export class AccountController {
  constructor(
    private readonly sessions: SessionsService<ClientInfo>,
    @InjectSessions(API_KEYS) private readonly apiKeys: SessionsService,
    private readonly users: UsersService,
    private readonly signInService: SignInService,
  ) {}

  @Get()
  @Render('account')
  async show(
    @CurrentSession() current: Session<ClientInfo>,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const user = await this.users.findById(userIdOf(current));
    if (!user) throw new UnauthorizedException();
    const sessions = await this.sessions.list({ userId: user.id, status: 'all' });
    // Only a digest is stored, so the token can be shown only right after the
    // login that created it, from the flash the server kept for this session.
    const token = flashSecret(res, 'session', current)?.token;
    return {
      title: 'Account',
      user,
      token,
      apiUrl: `${req.protocol}://${req.get('host')}/api/me`,
      // The guard replaces the cookie's token once it is older than `every`; the row, its id and login stay.
      rotation: this.sessions.options.rotation && {
        issuedAt: current.rotatedAt ?? current.insertedAt,
        rotated: current.rotatedAt != null,
        ...this.sessions.options.rotation,
      },
      maxSessions: MAX_SESSIONS_PER_USER,
      recentLogin: parseDuration(RECENT_LOGIN),
      sessions: sessions.map((session) => ({
        id: session.id,
        current: session.id === current.id,
        expired: session.isExpired,
        insertedAt: session.insertedAt,
        expiresAt: session.expiresAt,
        device: describeDevice(session.data.userAgent),
        userAgent: session.data.userAgent,
        ip: session.data.ip,
      })),
    };
  }

  @Post('sessions/:id/delete')
  async delete(@CurrentSession() current: Session, @Param('id') id: string, @Res() res: Response): Promise<void> {
    const session = await this.own(current, id);
    await this.sessions.delete(session);
    if (session.id === current.id) return this.leave(res, 'You are signed out.');
    setFlash(res, { type: 'info', message: 'The session was deleted: that device is signed out.' });
    redirect(res, '/account');
  }

  @Post('sessions/:id/expire')
  async expire(@CurrentSession() current: Session, @Param('id') id: string, @Res() res: Response): Promise<void> {
    const session = await this.own(current, id);
    await this.sessions.expire(session);
    if (session.id === current.id) {
      return this.leave(
        res,
        'Your session was expired. Its row stays, listed as expired, until it is pruned or deleted.',
      );
    }
    setFlash(res, { type: 'info', message: 'The session was expired: its row stays, but it no longer authenticates.' });
    redirect(res, '/account');
  }

  @Post('sign-out')
  async signOut(@CurrentSession() current: Session, @Res() res: Response): Promise<void> {
    await this.sessions.delete(current);
    this.leave(res, 'You are signed out.');
  }

  @Post('sign-out-others')
  async signOutOthers(@CurrentSession() current: Session, @Res() res: Response): Promise<void> {
    const count = await this.sessions.deleteAll({ userId: userIdOf(current), exceptId: current.id });
    setFlash(res, { type: 'info', message: `Signed out of ${count} other session${count === 1 ? '' : 's'}.` });
    redirect(res, '/account');
  }

  /**
   * Browser sessions only, unless the box is ticked: API keys are a separate kind, meant to outlive a sign-out.
   * It needs a recent login (step-up): a session of an older login gets a 401, which `PageExceptionFilter`
   * shows as a page that asks to log in again and says why; the session itself stays signed in.
   */
  @Post('sign-out-everywhere')
  @Authenticated({ maxAge: RECENT_LOGIN })
  async signOutEverywhere(
    @CurrentSession() current: Session,
    @Body('revoke_api_keys') revokeApiKeys: unknown,
    @Res() res: Response,
  ): Promise<void> {
    const userId = userIdOf(current);
    const count = await this.sessions.deleteAll({ userId });
    const sessions = `${count} session${count === 1 ? '' : 's'} deleted`;
    if (revokeApiKeys !== '1') {
      return this.leave(res, `Signed out everywhere: ${sessions}; your API keys still work.`);
    }
    const keys = await this.apiKeys.deleteAll({ userId });
    this.leave(res, `Signed out everywhere: ${sessions}, ${keys} API key${keys === 1 ? '' : 's'} revoked.`);
  }

  /** A second session for the same user, as another login would make; the first stays valid. */
  @Post('login-again')
  async loginAgain(@CurrentSession() current: Session, @Req() req: Request, @Res() res: Response): Promise<void> {
    const user = await this.users.findById(userIdOf(current));
    if (!user) throw new UnauthorizedException();
    await this.signInService.signIn(req, res, user, 'Logged in again: this browser now uses a new session.');
    redirect(res, '/account');
  }

  /** One of the current user's sessions, valid or not; someone else's is a 404, as if it did not exist. */
  private async own(current: Session, id: string): Promise<Session> {
    const session = await this.sessions.findOne({ id, userId: userIdOf(current), status: 'all' });
    if (!session) throw new NotFoundException('No such session.');
    return session;
  }

  private leave(res: Response, message: string): void {
    this.sessions.clearCookie(res);
    setFlash(res, { type: 'info', message });
    redirect(res, '/');
  }
}
