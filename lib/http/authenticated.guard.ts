import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import type { AuthenticatedOptions } from './authenticated-options.interface';
import type { TokenSource } from '../options/options.interface';
import type { Session } from '../store/session.entity';
import { AUTHENTICATED_KEY, DEFAULT_KIND, PUBLIC_KEY, SESSION_REQUEST_KEY } from '../constants';
import type { SessionsService } from '../service/sessions.service';
import { getSessionsToken } from '../module/injection-tokens';
import type { ResponseLike } from './cookies';
import { currentSessionOf, exposeSession, forgetSession, foundKind, rememberSession } from './request-sessions';
import { extractToken, type RequestLike } from './token-extraction';

/**
 * The object a non-HTTP request's or message's session is recorded on, one that
 * lives no longer than it: the GraphQL context; a WebSocket message's data (its
 * client outlives many messages, and only stands in for data that is not an
 * object); a microservice message's payload, else its transport's context.
 */
function carrierOf(context: ExecutionContext): object | undefined {
  const type = context.getType<string>();
  if (type === 'graphql') return asObject(context.getArgByIndex(2));
  if (type === 'ws') return asObject(context.getArgByIndex(1)) ?? asObject(context.getArgByIndex(0));
  return asObject(context.getArgByIndex(0)) ?? asObject(context.getArgByIndex(1));
}

function asObject(value: unknown): object | undefined {
  return typeof value === 'object' && value !== null ? value : undefined;
}

/**
 * The session `AuthenticatedGuard` found for this request or message, if any:
 * what `@CurrentSession()` returns. Never read from the request or message
 * itself (an RPC payload's `authSession` is whatever the sender put there). On
 * HTTP it is also `request.authSession`.
 */
export function getCurrentSession(context: ExecutionContext): Session | undefined {
  const carrier = context.getType() === 'http' ? asObject(context.switchToHttp().getRequest()) : carrierOf(context);
  return carrier ? currentSessionOf(carrier) : undefined;
}

/**
 * Resolves the token of a request, authenticates it and puts the session on
 * `request.authSession`. Used by `@Authenticated()`, or globally as `APP_GUARD`
 * (then `@Public()` opts a route out).
 *
 * A singleton: extend it and override `getRequest` (and `getResponse`,
 * `extractToken`) for GraphQL or WebSockets.
 *
 * @example
 * // every route needs a session unless it is @Public()
 * providers: [{ provide: APP_GUARD, useClass: AuthenticatedGuard }]
 */
@Injectable()
export class AuthenticatedGuard implements CanActivate {
  protected readonly logger = new Logger('EctoSessions');
  private readonly services = new Map<string, SessionsService>();
  private readonly optionsCache = new WeakMap<object, WeakMap<object, AuthenticatedOptions | null>>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly moduleRef: ModuleRef,
  ) {}

  /**
   * Not `async`: a cached session (or a token that cannot be ours) is answered
   * without a promise, so Nest goes on without waiting a microtask.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const type = context.getType<string>();
    const http = type === 'http';
    if (!http && type !== 'graphql') {
      // Each message starts with no session, public and optional ones too: its
      // carrier may be the WebSocket client, which outlives it.
      const carrier = carrierOf(context);
      if (carrier) forgetSession(carrier);
    }
    const options = this.optionsOf(context);
    if (options === null) return true;
    const name = options.name ?? DEFAULT_KIND;
    const request = this.getRequest(context);
    // The memo lives as long as an HTTP request; a GraphQL context or a
    // WebSocket client outlives many messages, each authenticated again.
    if (http && foundKind(request, name)) return true;

    const service = this.getService(name);
    const token = this.extractToken(request, service.options.tokenFrom);
    if (token === undefined) {
      if (options.optional) return true;
      this.refuse(context, 'Bearer');
    }
    let found: Session | null | Promise<Session | null>;
    try {
      found = service.resolveToken(token);
    } catch (error) {
      this.unavailable(name, error);
    }
    if (found instanceof Promise) {
      return found.then(
        (session) => this.accept(context, request, http, name, session, service, token!),
        (error: unknown) => this.unavailable(name, error),
      );
    }
    return this.accept(context, request, http, name, found, service, token!);
  }

  private unavailable(name: string, error: unknown): never {
    // Error messages may quote the SQL and its parameters (the digest): log only what kind of failure it was.
    this.logger.error(`Session lookup for kind "${name}" failed (${failureKind(error)}); answering 503`);
    throw new ServiceUnavailableException('Sessions are unavailable; try again shortly');
  }

  /** Puts the session where `@CurrentSession()` finds it; refuses the request without one. */
  private accept(
    context: ExecutionContext,
    request: RequestLike & Record<string | symbol, unknown>,
    http: boolean,
    name: string,
    session: Session | null,
    service: SessionsService,
    token: string,
  ): true {
    if (!session) this.refuse(context, 'Bearer error="invalid_token"');
    if (http && service.wasExtended(session)) this.refreshCookie(context, request, service, token, session);
    const carrier = http ? asObject(request) : carrierOf(context);
    if (carrier) rememberSession(carrier, http, name, session);
    if (typeof request === 'object' && request !== null) {
      if (http) exposeSession(request, session);
      // GraphQL's is the HTTP request in its context; a WebSocket client outlives
      // the message and an RPC payload is the sender's data: neither is written on.
      else if (context.getType<string>() === 'graphql') request[SESSION_REQUEST_KEY] = session;
    }
    return true;
  }

  /**
   * After a sliding extension, sends the token cookie again with a Max-Age that
   * reaches the new expiry, when the token came from the kind's cookie.
   */
  private refreshCookie(
    context: ExecutionContext,
    request: RequestLike,
    service: SessionsService,
    token: string,
    session: Session,
  ): void {
    const { tokenFrom, cookie } = service.options;
    const source = tokenFrom.find((s) => s.type === 'cookie' && s.name === cookie.name);
    if (!source || extractToken(request, [source]) !== token) return;
    const response = this.getResponse(context);
    try {
      if (response) service.refreshCookie(response as ResponseLike, token, session);
    } catch {
      // a response we cannot set headers on: the session stays valid, only its cookie is not refreshed
    }
  }

  /** `getOptions` once per controller and handler: metadata does not change after start-up. */
  private optionsOf(context: ExecutionContext): AuthenticatedOptions | null {
    const handler = context.getHandler();
    const controller = context.getClass();
    if (!handler || !controller) return this.getOptions(context);
    let byHandler = this.optionsCache.get(controller);
    if (!byHandler) this.optionsCache.set(controller, (byHandler = new WeakMap()));
    let options = byHandler.get(handler);
    if (options === undefined) byHandler.set(handler, (options = this.getOptions(context)));
    return options;
  }

  /**
   * The `@Authenticated()` options that apply, or `null` for a public route.
   * The nearest declaration wins: a handler's `@Authenticated()` or `@Public()`
   * overrides its controller's, so a public controller can guard one route and a
   * guarded controller can open one.
   */
  protected getOptions(context: ExecutionContext): AuthenticatedOptions | null {
    for (const target of [context.getHandler(), context.getClass()]) {
      if (!target) continue;
      const options = this.reflector.get<AuthenticatedOptions | undefined>(AUTHENTICATED_KEY, target);
      if (options) return options;
      if (this.reflector.get<boolean | undefined>(PUBLIC_KEY, target)) return null;
    }
    return {};
  }

  /** The request the token is read from and the session is put on. Override for GraphQL or WebSockets. */
  protected getRequest(context: ExecutionContext): RequestLike & Record<string | symbol, unknown> {
    return context.switchToHttp().getRequest();
  }

  /**
   * The response the `WWW-Authenticate` header goes on, or `undefined` when there
   * is none (then only the exception is thrown). Override for GraphQL over HTTP.
   */
  protected getResponse(context: ExecutionContext): unknown {
    return context.getType() === 'http' ? context.switchToHttp().getResponse() : undefined;
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
        throw new Error(
          `@Authenticated(): no session kind named "${name}"; register it with EctoSessionsModule.forRoot({ name: '${name}' })`,
        );
      }
      this.services.set(name, service);
    }
    return service;
  }

  /** 401 with `WWW-Authenticate`, as RFC 6750 asks. */
  protected refuse(context: ExecutionContext, challenge: string): never {
    const response = this.getResponse(context) as
      | { setHeader?: (name: string, value: string) => unknown; header?: (name: string, value: string) => unknown }
      | undefined;
    // Express (and Node) responses have setHeader; a Fastify reply has header.
    if (typeof response?.setHeader === 'function') response.setHeader('WWW-Authenticate', challenge);
    else if (typeof response?.header === 'function') response.header('WWW-Authenticate', challenge);
    throw new UnauthorizedException();
  }
}

/** A loggable name for a failure: its class and code (e.g. `ECONNREFUSED`, `57P01`), never its message. */
function failureKind(error: unknown): string {
  const name = (error as Error)?.name ?? typeof error;
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code) ? `${name} ${code}` : String(name);
}
