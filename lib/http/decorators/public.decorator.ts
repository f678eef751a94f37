import { applyDecorators, SetMetadata } from '@nestjs/common';
import { PUBLIC_KEY } from '../../constants';
import { openApiPublic } from '../openapi';

/**
 * Opts a route (or controller) out of `AuthenticatedGuard` registered as a global
 * `APP_GUARD`, or out of a controller-level `@Authenticated()`. The nearest
 * declaration wins: `@Authenticated()` on a handler of a `@Public()` controller
 * still guards that handler.
 *
 * @example
 * @Public()
 * @Get('health')
 * health() {}
 */
export const Public = (): ClassDecorator & MethodDecorator =>
  applyDecorators(SetMetadata(PUBLIC_KEY, true), ...openApiPublic());
