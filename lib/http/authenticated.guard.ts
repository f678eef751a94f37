import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import { AUTHENTICATED_KEY, DEFAULT_KIND, PUBLIC_KEY, SESSION_REQUEST_KEY } from '../constants';
import { UnknownKindError } from '../errors';
import { logger } from '../logger';
import { getSessionsToken } from '../module/injection-tokens';
import type { TokenSource } from '../options/options.interface';
import type { Resolution, SessionsService } from '../service/sessions.service';
import type { Rotated } from '../security/rotation';
import type { Session } from '../store/session.entity';
import type { AuthenticatedOptions } from './authenticated-options.interface';
import { appendSetCookie, refreshedSessionCookie } from './cookies';
import { forgetSession, foundSession, recordKeyOf, rememberSession } from './request-sessions';
import { type RouteRequirements, routeRequirements, unmet } from './route-requirements';
import { canAppendHeader, setHeader } from './response';
import { extractToken, type RequestLike } from './token-extraction';
import { failureKind, hintFor } from './lookup-failures';

export { getCurrentSession } from './request-sessions';

/** What the cached path found before it handed a request to `decide`: the token and its digests. */
interface CacheMiss {
  token: string;
  digests: string[];
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
  protected readonly logger = logger;
  private readonly services = new Map<string, SessionsService>();
  private readonly optionsCache = new WeakMap<object, WeakMap<object, AuthenticatedOptions | null>>();
  /** Each route's `maxAge` and `scopes`, checked once. */
  private readonly requirements = new WeakMap<AuthenticatedOptions, RouteRequirements | null>();

  constructor(
    protected readonly reflector: Reflector,
    protected readonly moduleRef: ModuleRef,
  ) {}

  /**
   * Decides a request: public or already decided → let through; no token →
   * 401 (or through, when optional); else the kind's service resolves the
   * token, and the guard records the session, refreshes a slid cookie, or
   * refuses. The database unreachable → 503.
   */
  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const http = context.getType<string>() === 'http';
    if (!http) {
      // Each message or field starts with no session, public and optional ones too: its
      // record key may be a GraphQL context (when `info` is not an object), which outlives it.
      const key = recordKeyOf(context);
      if (key) forgetSession(key);
    }
    const options = this.optionsOf(context);
    if (options === null) return true;
    const kind = options.name ?? DEFAULT_KIND;
    const request = this.getRequest(context);
    // HTTP only: the memo lives on the context the route's guards share, for one
    // request; a GraphQL context outlives many fields, each authenticated again.
    if (!http) return this.decide(context, options, kind, request);
    const found = foundSession(context, kind);
    if (found) return this.admits(context, options, found, this.getService(kind)); // a global guard found it; this route may ask more
    const miss = this.acceptCached(context, options, request, kind);
    return miss === true || this.decide(context, options, kind, request, miss);
  }

  /**
   * An HTTP request whose session the cache holds (and needs no extension) is
   * decided here without a promise; anything else (no token, a miss, a
   * refusal) goes to `decide`. Measured with `npm run bench` (12 rounds x 2 s,
   * one run each way, 2026-12-01): cached/public 0.73 (plain app) and 0.87
   * (behind express-session) with every request through `decide`; 0.84 and
   * 0.85 with this path (bench/results/latest.md).
   */
  private acceptCached(
    context: ExecutionContext,
    options: AuthenticatedOptions,
    request: RequestLike,
    kind: string,
  ): true | CacheMiss | undefined {
    const service = this.services.get(kind);
    if (!service) return undefined; // looked up (or refused) by `decide`
    const token = this.extractToken(request, service.options.tokenFrom);
    if (token === undefined) return undefined;
    const { session, digests } = service.requests.fromCache(token);
    if (!session) return { token, digests }; // `decide` goes on with them: one extraction, one hash a request
    // A cookie token due for reissue goes on to `decide`, which rotates it; a header token never is.
    if (service.requests.reissueDue(session) && this.fromKindCookie(request, service, token)) return { token, digests };
    this.admits(context, options, session, service);
    service.requests.used(session);
    this.record(context, request, true, kind, session);
    return true;
  }

  /**
   * `true` when the route asks nothing more of a valid session than it has
   * (`maxAge`, `scopes`); else the refusal, with its `WWW-Authenticate`.
   */
  private admits(
    context: ExecutionContext,
    options: AuthenticatedOptions,
    session: Session,
    service: SessionsService,
    now?: number,
  ): true {
    const requirements = this.requirementsOf(options);
    // `maxAge` against `insertedAt`, both by the database's clock.
    const refusal = requirements && unmet(requirements, session, now ?? service.requests.nowMs());
    if (!refusal) return true;
    setHeader(this.getResponse(context), 'WWW-Authenticate', refusal.challenge);
    throw refusal.exception;
  }

  private requirementsOf(options: AuthenticatedOptions): RouteRequirements | null {
    let requirements = this.requirements.get(options);
    if (requirements === undefined) this.requirements.set(options, (requirements = routeRequirements(options)));
    return requirements;
  }

  private async decide(
    context: ExecutionContext,
    options: AuthenticatedOptions,
    kind: string,
    request: RequestLike & Record<string | symbol, unknown>,
    miss?: CacheMiss,
  ): Promise<boolean> {
    const http = context.getType<string>() === 'http';
    const service = this.getService(kind);
    let token = miss?.token ?? this.extractToken(request, service.options.tokenFrom);
    if (token === undefined) {
      if (options.optional) return true;
      this.refuse(context, 'Bearer');
    }
    // The route's requirements are checked before any slide: a refused session keeps its
    // expiry (its 401 or 403 sends no cookie to keep pace). `admits` below uses the same instant.
    const requirements = this.requirementsOf(options);
    let at: number | undefined;
    const admit = requirements
      ? (found: Session) => !unmet(requirements, found, (at = service.requests.nowMs()))
      : undefined;
    let resolution: Resolution;
    try {
      resolution = await service.requests.resolve(token, undefined, miss?.digests, admit);
    } catch (error) {
      // Error messages may quote the SQL and its parameters (the digest): log only what kind of failure it was.
      this.logger.error(
        `Session lookup for kind "${kind}" failed (${failureKind(error)})${hintFor(error, service.options)}; answering 503`,
      );
      throw new ServiceUnavailableException('Sessions are unavailable; try again shortly');
    }
    let { session, extended } = resolution;
    if (!session) this.refuse(context, 'Bearer error="invalid_token"');
    this.admits(context, options, session, service, at);
    // A cookie-borne current token older than `rotation.every` is reissued; one a
    // rotation already replaced (inside its grace) never is, so racing requests
    // cannot rotate the new token away. Header tokens never are. Nor is a replaced
    // token ever sent back as a slid cookie: it would overwrite the new one in the
    // browser and die at the end of its grace. Both only where a cookie can go back (HTTP,
    // or GraphQL through getResponse): a token reissued with nowhere to go would be lost.
    const { current } = resolution;
    const due = current && service.requests.reissueDue(session);
    if (
      (due || (extended && current)) &&
      this.fromKindCookie(request, service, token) &&
      canAppendHeader(this.getResponse(context))
    ) {
      const rotated = due ? await this.reissue(service, session, token) : null;
      if (rotated) ({ session, token, extended } = { ...rotated, extended: true });
      if (extended) this.sendCookie(context, service, token, session);
    }
    this.record(context, request, http, kind, session);
    return true;
  }

  /** The guard's rotation, when due; a failure keeps the session and its token (it was found valid). */
  private async reissue(service: SessionsService, session: Session, token: string): Promise<Rotated | null> {
    try {
      return await service.requests.reissue(session, token);
    } catch (error) {
      this.logger.warn(`Rotating a "${service.name}" token failed (${failureKind(error)}); it keeps its token`);
      return null;
    }
  }

  /** Puts the session where `@CurrentSession()` (and, on HTTP, `request.authSession`) finds it. */
  private record(context: ExecutionContext, request: object, http: boolean, kind: string, session: Session): void {
    const key = http ? request : recordKeyOf(context);
    if (typeof key === 'object' && key !== null) rememberSession(context, key, http, kind, session);
    // GraphQL's request is the HTTP request in its context: it shows the session too. A
    // WebSocket client outlives the message, and an RPC payload is the sender's data: neither is written on.
    if (context.getType<string>() === 'graphql' && typeof request === 'object' && request !== null)
      (request as Record<string, unknown>)[SESSION_REQUEST_KEY] = session;
  }

  /** Whether the request's token came from the kind's own cookie (only then is a cookie sent back). */
  private fromKindCookie(request: RequestLike, service: SessionsService, token: string): boolean {
    const { tokenFrom, cookie } = service.options;
    const source = tokenFrom.find((s) => s.type === 'cookie' && s.name === cookie.name);
    return !!source && extractToken(request, [source]) === token;
  }

  /**
   * Sends the token cookie again, with a Max-Age that reaches the session's
   * expiry: after a sliding extension, or with the new token of a rotation.
   */
  private sendCookie(context: ExecutionContext, service: SessionsService, token: string, session: Session): void {
    const response = this.getResponse(context);
    try {
      if (response)
        appendSetCookie(
          response as never,
          refreshedSessionCookie(service.options.cookie, token, session.expiresAt, service.requests.nowMs()),
        );
    } catch {
      // a response we cannot set headers on: the session stays valid, only its cookie is not sent
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
   * guarded controller can open one. A class's own declaration overrides those
   * it inherits: a `@Public()` subclass of a guarded controller is public.
   */
  protected getOptions(context: ExecutionContext): AuthenticatedOptions | null {
    for (const target of [context.getHandler(), context.getClass()]) {
      // Own metadata only, class by class up the chain: Reflect.getMetadata would find
      // an ancestor's @Authenticated() before the subclass's own @Public().
      for (let t: object | null = target ?? null; t && t !== Function.prototype; t = Object.getPrototypeOf(t)) {
        const options = Reflect.getOwnMetadata(AUTHENTICATED_KEY, t) as AuthenticatedOptions | undefined;
        if (options) return options;
        if (Reflect.getOwnMetadata(PUBLIC_KEY, t)) return null;
      }
    }
    return {};
  }

  /** The request the token is read from and the session is put on. Override for GraphQL or WebSockets. */
  protected getRequest(context: ExecutionContext): RequestLike & Record<string | symbol, unknown> {
    // What `switchToHttp().getRequest()` returns, without the three closures `switchToHttp()` makes a call.
    return context.getArgByIndex(0);
  }

  /**
   * The response the `WWW-Authenticate` header goes on, or `undefined` when there
   * is none (then only the exception is thrown). Override for GraphQL over HTTP.
   */
  protected getResponse(context: ExecutionContext): unknown {
    return context.getType() === 'http' ? context.getArgByIndex(1) : undefined;
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
        throw new UnknownKindError(
          `EctoSessions: @Authenticated(): no session kind named "${name}"; register it with EctoSessionsModule.forRoot({ name: '${name}' })`,
        );
      }
      this.services.set(name, service);
    }
    return service;
  }

  /** 401 with `WWW-Authenticate`, as RFC 6750 asks. */
  protected refuse(context: ExecutionContext, challenge: string): never {
    setHeader(this.getResponse(context), 'WWW-Authenticate', challenge);
    throw new UnauthorizedException();
  }
}
