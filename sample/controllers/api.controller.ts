import { Controller, Get, Req } from '@nestjs/common';
import type { Request } from 'express';
import { extractToken, InjectSessions, type Session, SessionsService } from 'nestjs-ecto-sessions';
import { API_KEYS, type ApiKeyData } from '../sessions.config';
import { UsersService } from '../users/users.service';

/** Writes of an API key's `lastUsedAt` are at most this far apart, so a busy key does not write on every call. */
const LAST_USED_PRECISION_MS = 60_000;

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
   */
  @Get('me')
  async me(@Req() req: Request) {
    const found = (await this.find(this.sessions, req)) ?? (await this.find(this.apiKeys, req));
    const user = found && (await this.users.findById(found.session.userId));
    if (!found || !user) return { is_logged_in: false };
    const { session, kind } = found;
    if (kind === 'api_key') await this.touch(session as Session<ApiKeyData>);
    return {
      is_logged_in: true,
      user: { id: user.id, created_at: user.createdAt },
      session: {
        id: session.id,
        kind,
        ...(kind === 'api_key' ? { name: session.data.name } : {}),
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

  /**
   * The library does not track use (authenticating costs one read and no
   * write), so the sample keeps an API key's last use in its `data`.
   */
  private async touch(key: Session<ApiKeyData>): Promise<void> {
    const last = key.data.lastUsedAt ? Date.parse(key.data.lastUsedAt) : 0;
    if (Date.now() - last < LAST_USED_PRECISION_MS) return;
    await this.apiKeys.update(key, { data: { ...key.data, lastUsedAt: new Date().toISOString() } });
  }
}
