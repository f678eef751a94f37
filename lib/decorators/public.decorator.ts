import { SetMetadata } from '@nestjs/common';
import { PUBLIC_KEY } from '../sessions.constants';

/**
 * Opts a route (or controller) out of `AuthenticatedGuard` registered as a global `APP_GUARD`.
 *
 * @example
 * @Public()
 * @Get('health')
 * health() {}
 */
export const Public = (): ClassDecorator & MethodDecorator => SetMetadata(PUBLIC_KEY, true);
