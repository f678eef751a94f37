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
import { API_KEYS, API_SCOPES, type ApiKeyData, type ApiScope } from '../sessions.config';
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
      sessionsUrl: `${req.protocol}://${req.get('host')}/api/sessions`,
      total,
      page,
      pages: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      prevPage: page > 1 ? page - 1 : null,
      nextPage: page * PAGE_SIZE < total ? page + 1 : null,
      scopes: API_SCOPES,
      keys: keys.map((key) => ({
        id: key.id,
        name: key.data.name,
        scopes: key.scopes ?? [],
        insertedAt: key.insertedAt,
        // Recorded by the library (`trackLastUsed`), at most once a minute.
        lastUsedAt: key.lastUsedAt ?? null,
      })),
    };
  }

  @Post()
  async create(
    @CurrentSession() current: Session,
    @Body('name') raw: unknown,
    @Body('scopes') rawScopes: unknown,
    @Res() res: Response,
  ): Promise<void> {
    const name = typeof raw === 'string' ? raw.trim() : '';
    if (name.length === 0 || name.length > MAX_NAME) {
      setFlash(res, { type: 'error', message: `Give the key a name of 1 to ${MAX_NAME} characters.` });
      return redirect(res, '/api-keys');
    }
    const scopes = chosenScopes(rawScopes);
    if (!scopes) {
      setFlash(res, { type: 'error', message: `Choose scopes among ${API_SCOPES.map((s) => s.name).join(', ')}.` });
      return redirect(res, '/api-keys');
    }
    const { token } = await this.apiKeys.create({ userId: userIdOf(current), data: { name }, scopes });
    const allowed = scopes.length > 0 ? `scopes ${scopes.join(', ')}` : 'no scopes: it can call /api/me only';
    // The plaintext exists only now: the next page of this session shows it once.
    setFlash(res, {
      type: 'info',
      message: `API key "${name}" was created with ${allowed}.`,
      secret: { kind: 'apiKey', sessionId: current.id, token, name, scopes },
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

/**
 * The ticked checkboxes (`scopes`: none, one value, or several), in the order the form lists them; `null` if
 * any is not one of `API_SCOPES`, such as a hand-made `*`, which would grant everything.
 */
function chosenScopes(raw: unknown): ApiScope[] | null {
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const known: readonly string[] = API_SCOPES.map((s) => s.name);
  if (!values.every((value) => typeof value === 'string' && known.includes(value))) return null;
  return API_SCOPES.map((s) => s.name).filter((scope) => values.includes(scope));
}
