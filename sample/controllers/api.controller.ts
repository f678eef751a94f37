import { Controller, Get, Req } from '@nestjs/common';
import type { Request } from 'express';
import { extractToken, InjectSessions, SessionsService } from 'nestjs-ecto-sessions';
import { API_KEYS, type ApiKeyData } from '../sessions.config';
import { UsersService } from '../users/users.service';

/** The JSON API of the seed's demo. */
@Controller('api')
export class ApiController {
  constructor(
    private readonly sessions: SessionsService,
    @InjectSessions(API_KEYS) private readonly apiKeys: SessionsService<ApiKeyData>,
    private readonly users: UsersService,
  ) {}

  /**
   * Who the token in `X-Auth-Token` or `Authorization: Bearer` (or, for a
   * browser session, the cookie) belongs to. Either kind is accepted, so this
   * looks the token up itself rather than through one kind's `@Authenticated()`.
   * It needs no scope: any valid key may ask whose it is. An API key's use is
   * recorded by the library (`trackLastUsed`), not here.
   */
  @Get('me')
  async me(@Req() req: Request) {
    const found = (await this.find(this.sessions, req)) ?? (await this.find(this.apiKeys, req));
    const user = found && (await this.users.findById(found.session.userId));
    if (!found || !user) return { is_logged_in: false };
    const { session, kind } = found;
    return {
      is_logged_in: true,
      user: { id: user.id, created_at: user.createdAt },
      session: {
        id: session.id,
        kind,
        ...(kind === 'api_key' ? { name: session.data.name, scopes: session.scopes ?? [] } : {}),
        expires_at: session.expiresAt,
        inserted_at: session.insertedAt,
        updated_at: session.updatedAt,
      },
    };
  }

  private async find(service: SessionsService, req: Request) {
    const token = extractToken(req, service.options.tokenFrom);
    const session = token === undefined ? null : await service.authenticate(token);
    return session && { session, kind: service === this.sessions ? 'session' : 'api_key' };
  }
}
