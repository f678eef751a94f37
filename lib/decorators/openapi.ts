/** OpenAPI security scheme names `@Authenticated()` refers to (declare them with `addSecurity`). */
export const OPENAPI_SCHEMES = { header: 'x-auth-token', bearer: 'bearer', cookie: 'auth_token' } as const;

let decorators: Array<ClassDecorator & MethodDecorator> | undefined;

/**
 * With `@nestjs/swagger` installed, marks a route as needing the header,
 * bearer or cookie scheme; without it, nothing (it is an optional peer).
 */
export function openApiSecurity(): Array<ClassDecorator & MethodDecorator> {
  if (decorators) return decorators;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const swagger = require('@nestjs/swagger');
    decorators = [
      swagger.ApiSecurity(OPENAPI_SCHEMES.header),
      swagger.ApiBearerAuth(OPENAPI_SCHEMES.bearer),
      swagger.ApiCookieAuth(OPENAPI_SCHEMES.cookie),
      swagger.ApiUnauthorizedResponse({ description: 'Missing, invalid or expired session token' }),
    ];
  } catch {
    decorators = [];
  }
  return decorators;
}
