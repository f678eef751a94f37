import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { ApplicationConfig, DiscoveryService, MetadataScanner, ModuleRef, Reflector } from '@nestjs/core';
import { AuthenticatedGuard } from '../http/authenticated.guard';
import type { AuthenticatedOptions } from '../http/authenticated-options.interface';
import { AUTHENTICATED_KEY, DEFAULT_KIND } from '../constants';
import { SessionsOptionsError, UnknownKindError } from '../errors';
import type { SessionsService } from '../service/sessions.service';
import { classesOf, methodsOf } from './class-methods';
import { globalGuard, routeOptions, undecoratedRoutes } from './global-guard-routes';
import { getSessionsToken } from './injection-tokens';
import { assertKindsRegisteredOnce } from './kinds-registered-once';

/**
 * Fails start-up when an `@Authenticated({ name })` names a kind no
 * `EctoSessionsModule.forRoot` registered, or asks for `scopes` of a kind
 * without them: a typo should stop the deploy, not answer 500 (or 403 to
 * everyone) on the first request to that route. With a global guard, a route
 * without `@Authenticated()` or `@Public()` needs the default kind too.
 */
@Injectable()
export class AuthenticatedKindsCheck implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly config: ApplicationConfig,
    private readonly guard: AuthenticatedGuard,
  ) {}

  onApplicationBootstrap(): void {
    assertKindsRegisteredOnce(this.discovery);
    const missing = new Map<string, string[]>();
    const guard = globalGuard(this.config, this.guard);
    const global = guard ? [...undecoratedRoutes(this.discovery, this.scanner, this.reflector, guard)] : [];
    for (const [name, where, options] of [...this.usedKinds(), ...global]) {
      const service = this.registered(name);
      if (service && options.scopes?.length && !service.options.scopes) {
        throw new SessionsOptionsError(
          name,
          'scopes',
          `is off, but @Authenticated({ scopes }) on ${where} needs it: set scopes: true on the kind`,
        );
      }
      if (service) continue;
      missing.set(name, [...(missing.get(name) ?? []), where]);
    }
    if (missing.size === 0) return;
    const lines = [...missing].map(
      ([name, places]) =>
        `no session kind named "${name}" (used on ${places.slice(0, 3).join(', ')}${places.length > 3 ? ', …' : ''}); ` +
        `register it with EctoSessionsModule.forRoot(${name === DEFAULT_KIND ? '' : `{ name: '${name}' }`})` +
        (global.some(([kind]) => kind === name) ? ', or make those routes @Public() or name their kind' : ''),
    );
    throw new UnknownKindError(`EctoSessions: @Authenticated(): ${lines.join('; ')}`);
  }

  /** Every kind an `@Authenticated()` names, with the class or handler it is on. */
  private *usedKinds(): Generator<[string, string, AuthenticatedOptions]> {
    for (const type of classesOf([...this.discovery.getControllers(), ...this.discovery.getProviders()])) {
      // Declared on it or an ancestor, and not opened by a nearer @Public(): as the guard reads it.
      const onClass = this.options(type) && routeOptions(this.guard, type);
      if (onClass) yield [onClass.name ?? DEFAULT_KIND, type.name, onClass];
      for (const [method, handler] of methodsOf(type, this.scanner)) {
        const options = this.options(handler);
        if (options) yield [options.name ?? DEFAULT_KIND, `${type.name}.${method}`, options];
      }
    }
  }

  private options(target: object): AuthenticatedOptions | undefined {
    return this.reflector.get<AuthenticatedOptions | undefined>(AUTHENTICATED_KEY, target as never);
  }

  private registered(name: string): SessionsService | undefined {
    try {
      return this.moduleRef.get<SessionsService>(getSessionsToken(name), { strict: false });
    } catch {
      return undefined;
    }
  }
}
