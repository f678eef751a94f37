import { Body, Controller, Get, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { Authenticated, CurrentSession, InjectSessions, type Session, SessionsService } from 'nestjs-ecto-sessions';

/** The design card's login flow: a session cookie for browsers, the token in the body for API clients. */
@Controller()
export class AuthController {
  constructor(
    @Inject(SessionsService) private readonly sessions: SessionsService,
    @InjectSessions('apiKeys') private readonly apiKeys: SessionsService,
  ) {}

  @Post('auth/login')
  @HttpCode(200)
  async login(@Body() body: { userId: string }, @Res({ passthrough: true }) res: any) {
    const { session, token } = await this.sessions.create({ userId: body.userId, data: { via: 'login' } });
    this.sessions.setCookie(res, token);
    return { token, id: session.id };
  }

  @Authenticated()
  @Post('auth/logout')
  @HttpCode(200)
  async logout(@CurrentSession() session: Session, @Res({ passthrough: true }) res: any) {
    await this.sessions.delete(session);
    this.sessions.clearCookie(res);
    return { ok: true };
  }

  @Authenticated()
  @Get('me')
  me(@CurrentSession() session: Session) {
    return { id: session.id, userId: session.userId, expiresAt: session.expiresAt };
  }

  @Authenticated()
  @Get('me/user-id')
  userId(@CurrentSession('userId') userId: string) {
    return { userId };
  }

  @Authenticated({ optional: true })
  @Get('maybe')
  maybe(@CurrentSession() session?: Session) {
    return { session: session?.id ?? null };
  }

  /** A second kind side by side: API keys, issued to a signed-in user. */
  @Authenticated()
  @Post('api-keys')
  async issueKey(@CurrentSession() session: Session, @Body() body: { label?: string }) {
    const { token } = await this.apiKeys.create({ userId: session.userId, label: body?.label ?? null });
    return { key: token };
  }

  @Authenticated({ name: 'apiKeys' })
  @Get('api/whoami')
  whoami(@CurrentSession() key: Session) {
    return { userId: key.userId, label: key.label, expiresAt: key.expiresAt };
  }

  /** The kind with every security feature: its session, scopes and last use. */
  @Authenticated({ name: 'secure' })
  @Get('secure/me')
  secureMe(@CurrentSession() session: Session) {
    return { id: session.id, scopes: session.scopes, lastUsedAt: session.lastUsedAt, rotatedAt: session.rotatedAt };
  }

  @Authenticated({ name: 'secure', scopes: ['write'] })
  @Get('secure/write')
  secureWrite() {
    return { ok: true };
  }

  @Authenticated({ name: 'secure', maxAge: 60 })
  @Get('secure/sudo')
  secureSudo() {
    return { ok: true };
  }
}
