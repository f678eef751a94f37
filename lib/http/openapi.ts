/** OpenAPI security scheme names `@Authenticated()` refers to (declare them with `addSecurity`). */
export const OPENAPI_SCHEMES = { header: 'x-auth-token', bearer: 'bearer', cookie: 'auth_token' } as const;

type Decorator = ClassDecorator & MethodDecorator;

/** The parts of `@nestjs/swagger` used here. */
interface Swagger {
  ApiSecurity(name: string | Record<string, string[]>, requirements?: string[]): Decorator;
  ApiForbiddenResponse(options: { description: string }): Decorator;
  ApiBearerAuth(name: string): Decorator;
  ApiCookieAuth(name: string): Decorator;
  ApiUnauthorizedResponse(options: { description: string }): Decorator;
  ApiServiceUnavailableResponse(options: { description: string }): Decorator;
}

let swagger: Swagger | null | undefined;

/** `@nestjs/swagger` when installed, else `null`: it is an optional peer. */
function loadSwagger(): Swagger | null {
  if (swagger === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      swagger = require('@nestjs/swagger') as Swagger;
    } catch {
      swagger = null;
    }
  }
  return swagger;
}

/**
 * With `@nestjs/swagger` installed, marks a route as needing the header,
 * bearer or cookie scheme (or none, when optional); without it, nothing.
 *
 * New decorators on every call: swagger's `ApiSecurity` keeps the list it last
 * wrote in its closure, so one instance shared by several routes would carry a
 * route's other requirements over to the next.
 */
export function openApiSecurity(options: { optional?: boolean; scopes?: string[] } = {}): Decorator[] {
  const api = loadSwagger();
  if (!api) return [];
  const scopes = options.scopes ?? [];
  return [
    // The route's scopes go in each requirement (OpenAPI 3.1 allows them for any scheme type).
    ...(scopes.length > 0
      ? [
          api.ApiSecurity(OPENAPI_SCHEMES.header, scopes),
          api.ApiSecurity(OPENAPI_SCHEMES.bearer, scopes),
          api.ApiSecurity(OPENAPI_SCHEMES.cookie, scopes),
          api.ApiForbiddenResponse({ description: `The session lacks a scope: ${scopes.join(', ')}` }),
        ]
      : [
          api.ApiSecurity(OPENAPI_SCHEMES.header),
          api.ApiBearerAuth(OPENAPI_SCHEMES.bearer),
          api.ApiCookieAuth(OPENAPI_SCHEMES.cookie),
        ]),
    // An empty requirement is how OpenAPI says "or no credentials at all".
    ...(options.optional ? [api.ApiSecurity({})] : []),
    api.ApiUnauthorizedResponse({ description: 'Missing, invalid or expired session token' }),
    api.ApiServiceUnavailableResponse({ description: 'The session store is unreachable; retry shortly' }),
  ];
}

/** With `@nestjs/swagger` installed, marks a route as open to anonymous calls. */
export function openApiPublic(): Decorator[] {
  const api = loadSwagger();
  return api ? [api.ApiSecurity({})] : [];
}
