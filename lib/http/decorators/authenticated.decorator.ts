import { applyDecorators, SetMetadata, UseGuards } from '@nestjs/common';
import { AuthenticatedGuard } from '../authenticated.guard';
import type { AuthenticatedOptions } from '../authenticated-options.interface';
import { AUTHENTICATED_KEY } from '../../constants';
import { openApiSecurity } from '../openapi';
import { routeRequirements } from '../route-requirements';

/**
 * Requires a valid session on a controller or a handler (the handler's options win).
 * Missing, malformed, unknown or expired tokens get a 401; an unreachable database a 503.
 * With `@nestjs/swagger` installed, the route's docs list the `OPENAPI_SCHEMES`
 * (declare them on your `DocumentBuilder`) and the 401 and 503 responses.
 *
 * @example
 * @Authenticated()
 * @Get('me')
 * me(@CurrentSession() session: Session) {}
 *
 * @Authenticated({ name: 'apiKeys' })       // API keys only
 * @Authenticated({ optional: true })        // anonymous allowed, bad tokens still refused
 * @Authenticated({ maxAge: '5m' })          // a login at most 5 minutes old, else 401 (step-up)
 * @Authenticated({ name: 'apiKeys', scopes: ['keys:write'] })  // else 403 insufficient_scope
 */
export function Authenticated(options: AuthenticatedOptions = {}): ClassDecorator & MethodDecorator {
  routeRequirements(options); // a bad maxAge or scope fails here, at start-up
  return applyDecorators(
    SetMetadata(AUTHENTICATED_KEY, options),
    UseGuards(AuthenticatedGuard),
    ...openApiSecurity(options),
  );
}
