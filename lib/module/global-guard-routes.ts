import type { ExecutionContext } from '@nestjs/common';
import type { ApplicationConfig, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { AUTHENTICATED_KEY, DEFAULT_KIND } from '../constants';
import type { AuthenticatedOptions } from '../http/authenticated-options.interface';
import { AuthenticatedGuard } from '../http/authenticated.guard';
import { classesOf, methodsOf } from './class-methods';

/** Nest's `METHOD_METADATA` (`@nestjs/common/constants`, not a public entry point): set by `@Get()` and the like. */
const ROUTE_METHOD = 'method';

/**
 * The `AuthenticatedGuard` (or subclass) that guards every route, from `APP_GUARD`
 * or `app.useGlobalGuards()`, if any. A request-scoped one has no instance before
 * a request: `fallback` (the library's own guard) then reads the routes for it.
 */
export function globalGuard(config: ApplicationConfig, fallback: AuthenticatedGuard): AuthenticatedGuard | undefined {
  const guard = config.getGlobalGuards().find((g) => g instanceof AuthenticatedGuard);
  if (guard) return guard as AuthenticatedGuard;
  const scoped = config
    .getGlobalRequestGuards()
    .some(
      ({ metatype: m }) =>
        m === AuthenticatedGuard || (typeof m === 'function' && m.prototype instanceof AuthenticatedGuard),
    );
  return scoped ? fallback : undefined;
}

/**
 * The HTTP routes a global guard checks though neither they nor their controller
 * carry `@Authenticated()` (the kinds check sees those): each needs the kind the
 * guard's `getOptions` gives it (the default kind), a `@Public()` one none. The
 * guard's own `getOptions` decides, so a subclass's rule or the guard's reading
 * of inherited metadata applies here as at request time.
 */
export function* undecoratedRoutes(
  discovery: DiscoveryService,
  scanner: MetadataScanner,
  reflector: Reflector,
  guard: AuthenticatedGuard,
): Generator<[string, string, AuthenticatedOptions]> {
  for (const type of classesOf(discovery.getControllers())) {
    if (reflector.get(AUTHENTICATED_KEY, type)) continue;
    for (const [method, handler] of methodsOf(type, scanner)) {
      if (Reflect.getMetadata(ROUTE_METHOD, handler) === undefined || reflector.get(AUTHENTICATED_KEY, handler))
        continue;
      const options = routeOptions(guard, type, handler);
      if (options) yield [options.name ?? DEFAULT_KIND, `${type.name}.${method} via the global guard`, options];
    }
  }
}

/**
 * What `guard` makes of a class (no handler) or a route: its `getOptions`, given
 * all it reads of a context (the class and handler, over HTTP), so start-up
 * follows the guard's rules (nearest declaration wins, own before inherited).
 * `null` (nothing to check) when a subclass's `getOptions` reads more of the
 * context than start-up has: the request decides then.
 */
export function routeOptions(guard: AuthenticatedGuard, type: object, handler?: object): AuthenticatedOptions | null {
  const context = { getClass: () => type, getHandler: () => handler, getType: () => 'http' };
  const { getOptions } = guard as unknown as { getOptions(context: ExecutionContext): AuthenticatedOptions | null };
  try {
    return getOptions.call(guard, context as unknown as ExecutionContext);
  } catch {
    return null;
  }
}
