import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import type { AuthenticatedOptions } from './interfaces/authenticated-options.interface';
import type { TokenSource } from './interfaces/sessions-options.interface';
import type { Session } from './session.entity';
import { AUTHENTICATED_KEY, DEFAULT_KIND, PUBLIC_KEY, SESSION_REQUEST_KEY } from './sessions.constants';
import type { SessionsService } from './sessions.service';
import { getSessionsToken } from './sessions.tokens';
import { extractToken, type RequestLike } from './token-extraction';

/** Sessions already authenticated on a request, by kind, so a second guard run costs nothing. */
const AUTHENTICATED_KINDS = Symbol('ecto-sessions:kinds');

/**
 * Resolves the token of a request, authenticates it and puts the session on
 * `request.authSession`. Used by `@Authenticated()`, or globally as `APP_GUARD`
 * (then `@Public()` opts a route out).
 *
 * A singleton: extend it and override `getRequest`/`extractToken` for GraphQL
 * or WebSockets.
 */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  protected readonly logger = new Logger('EctoSessions');
  private readonly services = new Map<string, SessionsService>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly moduleRef: ModuleRef,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const options = this.reflector.getAllAndOverride<AuthenticatedOptions | undefined>(AUTHENTICATED_KEY, targets) ?? {};
    const name = options.name ?? DEFAULT_KIND;
    const request = this.getRequest(context);
    const done = (request[AUTHENTICATED_KINDS] ??= {}) as Record<string, Session>;
    if (done[name]) return true;

    const service = this.getService(name);
    const token = this.extractToken(request, service.options.tokenFrom);
    if (token === undefined) {
      if (options.optional) return true;
      this.refuse(context, 'Bearer');
    }
    let session: Session | null;
    try {
      session = await service.authenticate(token);
    } catch (error) {
      // The message may quote the SQL and its parameters: log only what kind of failure it was.
      this.logger.error(`Session lookup for kind "${name}" failed: ${(error as Error)?.name ?? 'error'}`);
      throw new ServiceUnavailableException('Sessions are unavailable; try again shortly');
    }
    if (!session) this.refuse(context, 'Bearer error="invalid_token"');
    done[name] = session!;
    request[SESSION_REQUEST_KEY] = session;
    return true;
  }

  /** The request the token is read from and the session is put on. Override for GraphQL or WebSockets. */
  protected getRequest(context: ExecutionContext): RequestLike & Record<string | symbol, unknown> {
    return context.switchToHttp().getRequest();
  }

  /** The token of a request, from the kind's `tokenFrom` sources. */
  protected extractToken(request: RequestLike, sources: readonly TokenSource[]): string | undefined {
    return extractToken(request, sources);
  }

  /** The kind's service, looked up once. */
  protected getService(name: string): SessionsService {
    let service = this.services.get(name);
    if (!service) {
      try {
        service = this.moduleRef.get<SessionsService>(getSessionsToken(name), { strict: false });
      } catch {
        throw new Error(`@Authenticated(): no session kind named "${name}"; register it with EctoSessionsModule.forRoot({ name: '${name}' })`);
      }
      this.services.set(name, service);
    }
    return service;
  }

  /** 401 with `WWW-Authenticate`, as RFC 6750 asks. */
  protected refuse(context: ExecutionContext, challenge: string): never {
    const response = context.switchToHttp().getResponse();
    if (typeof response?.setHeader === 'function') response.setHeader('WWW-Authenticate', challenge);
    else if (typeof response?.header === 'function') response.header('WWW-Authenticate', challenge);
    throw new UnauthorizedException();
  }
}
