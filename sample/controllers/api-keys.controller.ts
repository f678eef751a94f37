import {
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  Post,
  Query,
  Render,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { Authenticated, CurrentSession, InjectSessions, type Session, SessionsService } from 'nestjs-ecto-sessions';
import { API_KEYS, type ApiKeyData } from '../sessions.config';
import { flashSecret, setFlash } from '../web/flash';
import { PageExceptionFilter } from '../web/page-exception.filter';
import { redirect } from '../web/redirect';
import { userIdOf } from '../web/user-id-of';

const MAX_NAME = 60;
/** Keys per page: pages with links to the next and previous, so no key hides past the first page. */
const PAGE_SIZE = 100;

/** API keys: a second kind of session, created, listed and revoked by a logged-in user. */
@Controller('api-keys')
@Authenticated()
@UseFilters(PageExceptionFilter)
export class ApiKeysController {
  constructor(@InjectSessions(API_KEYS) private readonly apiKeys: SessionsService<ApiKeyData>) {}

  @Get()
  @Render('api-keys')
  async list(
    @CurrentSession() current: Session,
    @Query('page') rawPage: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const page = pageNumber(rawPage);
    const filters = { userId: userIdOf(current), status: 'all' } as const;
    const total = await this.apiKeys.count(filters);
    const keys = await this.apiKeys.list(filters, { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
    return {
      title: 'API keys',
      created: flashSecret(res, 'apiKey', current),
      apiUrl: `${req.protocol}://${req.get('host')}/api/me`,
      total,
      page,
      pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      prevPage: page > 1 ? page - 1 : null,
      nextPage: page * PAGE_SIZE < total ? page + 1 : null,
      keys: keys.map((key) => ({
        id: key.id,
        name: key.data.name,
        insertedAt: key.insertedAt,
        lastUsedAt: key.data.lastUsedAt ? new Date(key.data.lastUsedAt) : null,
      })),
    };
  }

  @Post()
  async create(@CurrentSession() current: Session, @Body('name') raw: unknown, @Res() res: Response): Promise<void> {
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (name.length === 0 || name.length > MAX_NAME) {
      setFlash(res, { type: 'error', message: `Give the key a name of 1 to ${MAX_NAME} characters.` });
      return redirect(res, '/api-keys');
    }
    const { token } = await this.apiKeys.create({ userId: userIdOf(current), data: { name } });
    // The plaintext exists only now: the next page of this session shows it once.
    setFlash(res, {
      type: 'info',
      message: `API key "${name}" was created.`,
      secret: { kind: 'apiKey', sessionId: current.id, token, name },
    });
    redirect(res, '/api-keys');
  }

  @Post(':id/revoke')
  async revoke(@CurrentSession() current: Session, @Param('id') id: string, @Res() res: Response): Promise<void> {
    const key = await this.apiKeys.findOne({ id, userId: userIdOf(current), status: 'all' });
    if (!key) throw new NotFoundException('No such API key.');
    await this.apiKeys.delete(key);
    setFlash(res, { type: 'info', message: `API key "${key.data.name}" was revoked.` });
    redirect(res, '/api-keys');
  }
}

/** `?page=`: a whole number from 1; anything else is the first page. */
function pageNumber(raw: unknown): number {
  return typeof raw === 'string' && /^[1-9][0-9]{0,5}$/.test(raw) ? Number(raw) : 1;
}
