import { Controller, Get } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { ApiSecurity, DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AUTHENTICATED_KEY, Authenticated, OPENAPI_SCHEMES, Public } from '../lib';
import { type Adapter, createTestApp, type TestApp } from './support/app';

const REQUIRED = [{ [OPENAPI_SCHEMES.header]: [] }, { [OPENAPI_SCHEMES.bearer]: [] }, { [OPENAPI_SCHEMES.cookie]: [] }];

@Controller()
class DocsController {
  @Authenticated()
  @Get('me')
  me() {}

  @Authenticated({ optional: true })
  @Get('maybe')
  maybe() {}

  /** Another requirement of its own, which must stay on this route. */
  @Authenticated()
  @ApiSecurity('oauth')
  @Get('with-oauth')
  withOauth() {}

  @Authenticated({ name: 'apiKeys' })
  @Get('after')
  after() {}

  @Authenticated({ name: 'apiKeys', scopes: ['keys:read', 'keys:write'] })
  @Get('scoped')
  scoped() {}

  @Public()
  @Get('health')
  health() {}

  @Get('plain')
  plain() {}
}

describe.each<Adapter>(['express', 'fastify'])('OpenAPI with @nestjs/swagger installed on %s', (adapter) => {
  let t: TestApp;
  let doc: OpenAPIObject;

  beforeAll(async () => {
    t = await createTestApp({ adapter, controllers: [DocsController], kinds: [{}, { name: 'apiKeys', scopes: true }] });
    const config = new DocumentBuilder()
      .addApiKey({ type: 'apiKey', in: 'header', name: 'x-auth-token' }, OPENAPI_SCHEMES.header)
      .addBearerAuth(undefined, OPENAPI_SCHEMES.bearer)
      .addCookieAuth('auth_token', undefined, OPENAPI_SCHEMES.cookie)
      .build();
    doc = SwaggerModule.createDocument(t.app, config);
  });
  afterAll(() => t.close());

  it('lists the header, bearer and cookie schemes, and the 401 and 503 responses, on an @Authenticated() route', () => {
    const me = doc.paths['/me'].get!;
    expect(me.security).toEqual(REQUIRED);
    expect(Object.keys(me.responses)).toEqual(expect.arrayContaining(['401', '503']));
    expect(Object.keys(doc.components!.securitySchemes!)).toEqual(
      expect.arrayContaining([OPENAPI_SCHEMES.header, OPENAPI_SCHEMES.bearer, OPENAPI_SCHEMES.cookie]),
    );
  });

  it('adds the empty requirement (anonymous allowed) on an optional route', () => {
    expect(doc.paths['/maybe'].get!.security).toEqual([...REQUIRED, {}]);
  });

  it('keeps each route’s own requirements to itself', () => {
    expect(doc.paths['/with-oauth'].get!.security).toEqual(expect.arrayContaining([...REQUIRED, { oauth: [] }]));
    expect(doc.paths['/after'].get!.security).toEqual(REQUIRED);
  });

  it("puts a route's scopes in each of its security requirements, and the 403 response", () => {
    const scoped = doc.paths['/scoped'].get!;
    const scopes = ['keys:read', 'keys:write'];
    expect(scoped.security).toEqual(
      expect.arrayContaining([
        { [OPENAPI_SCHEMES.header]: scopes },
        { [OPENAPI_SCHEMES.bearer]: scopes },
        { [OPENAPI_SCHEMES.cookie]: scopes },
      ]),
    );
    expect(scoped.security).toHaveLength(3);
    expect(Object.keys(scoped.responses)).toEqual(expect.arrayContaining(['401', '403', '503']));
  });

  it('marks a @Public() route as open and leaves an undecorated one alone', () => {
    expect(doc.paths['/health'].get!.security).toEqual([{}]);
    expect(doc.paths['/plain'].get!.security).toBeUndefined();
  });
});

describe('OpenAPI without @nestjs/swagger installed', () => {
  it('decorates routes with the guard and adds no OpenAPI metadata', () => {
    jest.isolateModules(() => {
      jest.doMock('@nestjs/swagger', () => {
        throw Object.assign(new Error("Cannot find module '@nestjs/swagger'"), { code: 'MODULE_NOT_FOUND' });
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const lib = require('../lib') as typeof import('../lib');
      class Isolated {
        me() {}
        health() {}
      }
      const me = Object.getOwnPropertyDescriptor(Isolated.prototype, 'me')!;
      const health = Object.getOwnPropertyDescriptor(Isolated.prototype, 'health')!;
      lib.Authenticated({ optional: true })(Isolated.prototype, 'me', me);
      lib.Public()(Isolated.prototype, 'health', health);
      expect(Reflect.getMetadata(AUTHENTICATED_KEY, me.value)).toEqual({ optional: true });
      expect(Reflect.getMetadata(GUARDS_METADATA, me.value)).toEqual([lib.AuthenticatedGuard]);
      expect(Reflect.getMetadataKeys(me.value).filter((key: string) => key.startsWith('swagger/'))).toEqual([]);
      expect(Reflect.getMetadataKeys(health.value).filter((key: string) => key.startsWith('swagger/'))).toEqual([]);
    });
  });
});
