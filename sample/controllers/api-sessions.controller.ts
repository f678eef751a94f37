import { Controller, Delete, Get, HttpCode, NotFoundException, Param } from '@nestjs/common';
import { Authenticated, CurrentSession, type Session, SessionsService } from 'nestjs-ecto-sessions';
import { API_KEYS } from '../sessions.config';
import type { ClientInfo } from '../web/client-info';
import { describeDevice } from '../web/device';
import { userIdOf } from '../web/user-id-of';

/**
 * The key owner's browser sessions, for scripts: API keys only, each route open to keys with its scope. A key
 * without it gets a 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."` from the library.
 */
@Controller('api/sessions')
export class ApiSessionsController {
  constructor(private readonly sessions: SessionsService<ClientInfo>) {}

  @Get()
  @Authenticated({ name: API_KEYS, scopes: ['sessions:read'] })
  async list(@CurrentSession() key: Session) {
    const sessions = await this.sessions.list({ userId: userIdOf(key), status: 'all' });
    return sessions.map((session) => ({
      id: session.id,
      device: describeDevice(session.data.userAgent),
      ip: session.data.ip,
      expired: session.isExpired,
      inserted_at: session.insertedAt,
      expires_at: session.expiresAt,
    }));
  }

  /** Signs one of the owner's devices out; another user's session is a 404, as if it did not exist. */
  @Delete(':id')
  @HttpCode(204)
  @Authenticated({ name: API_KEYS, scopes: ['sessions:revoke'] })
  async revoke(@CurrentSession() key: Session, @Param('id') id: string): Promise<void> {
    const session = await this.sessions.findOne({ id, userId: userIdOf(key), status: 'all' });
    if (!session) throw new NotFoundException('No such session.');
    await this.sessions.delete(session);
  }
}
