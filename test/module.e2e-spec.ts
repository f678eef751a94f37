import {
  Controller,
  type DynamicModule,
  Get,
  type INestApplication,
  Injectable,
  Module,
  type Provider,
  Scope,
  type Type,
} from '@nestjs/common';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  Authenticated,
  AuthenticatedGuard,
  digest,
  EctoSessionsModule,
  type EctoSessionsOptions,
  type EctoSessionsOptionsFactory,
  getSessionsToken,
  InjectSessions,
  Public,
  resolveSessionsOptions,
  sessionEntity,
  SessionsService,
} from '../lib';
import { AuthenticatedKindsCheck } from '../lib/module/kinds-check';
import { ormOptions, recreateTables } from './support/database';
import { createTestApp } from './support/app';

@Injectable()
class SessionsConfig implements EctoSessionsOptionsFactory {
  createSessionsOptions(): EctoSessionsOptions {
    return { ttl: '2h', secret: 'from-config' };
  }
}

@Module({ providers: [SessionsConfig], exports: [SessionsConfig] })
class ConfigModule {}

@Injectable()
class Admin {
  constructor(
    readonly sessions: SessionsService,
    @InjectSessions('apiKeys') readonly apiKeys: SessionsService,
  ) {}
}

@Controller()
class TypoController {
  @Authenticated({ name: 'apiKey' })
  @Get('keys')
  keys() {
    return {};
  }

  @Authenticated({ name: 'apiKeys' })
  @Get('fine')
  fine() {
    return {};
  }
}

@Authenticated()
@Controller('default')
class DefaultKindController {
  @Get()
  me() {
    return {};
  }
}

/** Routes a global guard checks: one needs the default kind, one names its kind, one is public. */
@Controller()
class OnlyKeysController {
  @Get('undecorated')
  undecorated() {
    return {};
  }

  @Authenticated({ name: 'apiKeys' })
  @Get('keys')
  keys() {
    return {};
  }

  @Public()
  @Get('health')
  health() {
    return {};
  }
}

@Public()
@Controller('open')
class OpenController {
  @Get()
  index() {
    return {};
  }
}

@Injectable()
class SubclassGuard extends AuthenticatedGuard {}

/** Not a controller itself: its subclasses inherit its @Authenticated(). */
@Authenticated()
class GuardedBase {
  @Get()
  index() {
    return {};
  }
}

@Controller('inherits')
class InheritsGuard extends GuardedBase {}

@Public()
@Controller('opened')
class OpensGuard extends GuardedBase {}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedGuard extends AuthenticatedGuard {}

async function bootAsync(sessionsModule: ReturnType<typeof EctoSessionsModule.forRootAsync>) {
  const moduleRef = await Test.createTestingModule({
    imports: [MikroOrmModule.forRoot({ ...ormOptions(), autoLoadEntities: true }), sessionsModule],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  await recreateTables(app.get(MikroORM));
  return app;
}

/** Boots an app with these modules (and MikroORM): 'started', or the message start-up failed with. */
async function startUp(
  modules: DynamicModule[],
  more: { controllers?: Type[]; providers?: Provider[]; configure?(app: INestApplication): void } = {},
): Promise<string> {
  const moduleRef = await Test.createTestingModule({
    imports: [MikroOrmModule.forRoot({ ...ormOptions(), autoLoadEntities: true }), ...modules],
    controllers: more.controllers ?? [],
    providers: more.providers ?? [],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  try {
    more.configure?.(app);
    await app.init();
    return 'started';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await app.close();
  }
}

describe('EctoSessionsModule', () => {
  it.each([
    ['useFactory', { useFactory: async () => ({ ttl: '2h', secret: 'from-config' }) }],
    [
      'useFactory with imports and inject',
      {
        imports: [ConfigModule],
        inject: [SessionsConfig],
        useFactory: (config: SessionsConfig) => config.createSessionsOptions(),
      },
    ],
    ['useClass', { useClass: SessionsConfig }],
    ['useExisting', { imports: [ConfigModule], useExisting: SessionsConfig }],
  ])('forRootAsync with %s', async (_, asyncOptions) => {
    const app = await bootAsync(EctoSessionsModule.forRootAsync(asyncOptions as never));
    try {
      const sessions = app.get(SessionsService);
      expect(sessions.options).toMatchObject({ ttl: 7200 });
      expect(sessions.options).not.toHaveProperty('secrets'); // the pepper is never shown
      const { session, token } = await sessions.create({ userId: 'u' });
      expect(await sessions.authenticate(token)).not.toBeNull();
      expect(session.authTokenDigest).toBe(digest(token, 'sha256', 'from-config'));
    } finally {
      await app.close();
    }
  });

  it('forRootAsync takes the name and the table shape beside the factory', async () => {
    const app = await bootAsync(
      EctoSessionsModule.forRootAsync({
        name: 'apiKeys',
        tableName: 'api_keys_async',
        columns: { projectId: { type: 'uuid', index: true } },
        useFactory: () => ({ ttl: null }),
      }),
    );
    try {
      const keys = app.get<SessionsService>(getSessionsToken('apiKeys'));
      const project = '00000000-0000-4000-8000-000000000001';
      await keys.create({ projectId: project });
      expect(await keys.count({ projectId: project })).toBe(1);
      expect(keys.options.tableName).toBe('api_keys_async');
    } finally {
      await app.close();
    }
  });

  // Booted without an ORM: the options are checked before anything needs one.
  const compileAlone = (sessionsModule: ReturnType<typeof EctoSessionsModule.forRootAsync>) =>
    Test.createTestingModule({ imports: [sessionsModule] }).compile();

  it('forRootAsync refuses a factory that returns the table shape', async () => {
    await expect(
      compileAlone(EctoSessionsModule.forRootAsync({ useFactory: () => ({ tableName: 'elsewhere' }) })),
    ).rejects.toThrow(/option "tableName" must be given beside useFactory/);
  });

  it('forRootAsync: the features that add columns are table shape too, given beside the factory', async () => {
    for (const shape of [{ rotation: { grace: '1m' } }, { scopes: true }, { trackLastUsed: '1m' }]) {
      const option = Object.keys(shape)[0];
      await expect(compileAlone(EctoSessionsModule.forRootAsync({ useFactory: () => shape }))).rejects.toThrow(
        new RegExp(`option "${option}" must be given beside useFactory`),
      );
    }
    const app = await bootAsync(
      EctoSessionsModule.forRootAsync({
        name: 'rotatingAsync',
        scopes: true,
        rotation: { grace: '1m' },
        useFactory: () => ({ ttl: '1h', maxPerUser: { max: 2 } }),
      }),
    );
    try {
      const sessions = app.get<SessionsService>(getSessionsToken('rotatingAsync'));
      const { session } = await sessions.create({ userId: 'async', scopes: ['a'] });
      expect(session.scopes).toEqual(['a']);
      expect(await sessions.rotate(session)).not.toBeNull();
      expect(sessions.options.maxPerUser).toEqual({ max: 2, onLimit: 'expireOldest', column: 'userId' });
    } finally {
      await app.close();
    }
  });

  it('a bad option fails at start-up with a message naming it', async () => {
    await expect(async () =>
      Test.createTestingModule({ imports: [EctoSessionsModule.forRoot({ ttl: 'forever' })] }).compile(),
    ).rejects.toThrow(/option "ttl"/);
    await expect(
      compileAlone(EctoSessionsModule.forRootAsync({ useFactory: () => ({ tokenLength: 8 }) })),
    ).rejects.toThrow(/option "tokenLength" must be at least 22/);
  });

  it('says what is missing without an ORM', async () => {
    const moduleRef = Test.createTestingModule({ imports: [EctoSessionsModule.forRoot({})] });
    await expect(moduleRef.compile()).rejects.toThrow(/option "orm" is missing: import MikroOrmModule/);
  });

  it('an @Authenticated() naming a kind nobody registered fails start-up, saying where', async () => {
    const init = (kinds: EctoSessionsOptions[], controller: new () => unknown) =>
      startUp(
        kinds.map((kind) => EctoSessionsModule.forRoot(kind)),
        { controllers: [controller] },
      );
    expect(await init([{}, { name: 'apiKeys' }], TypoController)).toBe(
      `EctoSessions: @Authenticated(): no session kind named "apiKey" (used on TypoController.keys); register it with EctoSessionsModule.forRoot({ name: 'apiKey' })`,
    );
    expect(await init([{ name: 'apiKeys' }], DefaultKindController)).toBe(
      `EctoSessions: @Authenticated(): no session kind named "default" (used on DefaultKindController); register it with EctoSessionsModule.forRoot()`,
    );
    expect(await init([{}, { name: 'apiKeys' }], DefaultKindController)).toBe('started');
  });

  it('two forRoot calls for one kind fail start-up, naming it, instead of the second replacing the first', async () => {
    const twice = (second: DynamicModule) => startUp([EctoSessionsModule.forRoot({ ttl: '7d' }), second]);
    const message = /EctoSessions \(kind "default"\): option "name" .*2 EctoSessionsModule\.forRoot/;
    expect(await twice(EctoSessionsModule.forRoot({ tableName: 'api_keys', ttl: null }))).toMatch(message);
    expect(await twice(EctoSessionsModule.forRoot({ ttl: '7d' }))).toMatch(message);
    expect(await twice(EctoSessionsModule.forRootAsync({ useFactory: () => ({ ttl: '1h' }) }))).toMatch(message);
    expect(
      await startUp([
        EctoSessionsModule.forRoot({ name: 'apiKeys' }),
        EctoSessionsModule.forRootAsync({ name: 'apiKeys', useFactory: () => ({}) }),
      ]),
    ).toMatch(/kind "apiKeys"/);
    expect(
      await startUp([
        EctoSessionsModule.forRoot({}),
        EctoSessionsModule.forRoot({ name: 'keys', entityName: 'Session' }),
      ]),
    ).toMatch(/option "entityName" "Session" is also kind "(default|keys)"'s/);
    // Per app, not per process: each app may register the same kinds.
    const kinds = () => [EctoSessionsModule.forRoot({}), EctoSessionsModule.forRoot({ name: 'apiKeys' })];
    expect(await startUp(kinds())).toBe('started');
    expect(await startUp(kinds())).toBe('started');
  });

  it("start-up reads a controller's inherited @Authenticated() as the guard does: its own @Public() wins", async () => {
    const keysOnly = () => [EctoSessionsModule.forRoot({ name: 'apiKeys' })];
    expect(await startUp(keysOnly(), { controllers: [InheritsGuard] })).toMatch(
      /no session kind named "default" \(used on InheritsGuard\)/,
    );
    expect(await startUp(keysOnly(), { controllers: [OpensGuard] })).toBe('started');
    const global = { controllers: [OpensGuard], providers: [{ provide: APP_GUARD, useClass: AuthenticatedGuard }] };
    expect(await startUp(keysOnly(), global)).toBe('started');
  });

  it('a global guard on routes that need the default kind fails start-up when none is registered, naming them', async () => {
    const keysOnly = () => [EctoSessionsModule.forRoot({ name: 'apiKeys' })];
    const controllers = [OnlyKeysController, OpenController];
    const refused =
      'EctoSessions: @Authenticated(): no session kind named "default" (used on OnlyKeysController.undecorated via the global guard); ' +
      'register it with EctoSessionsModule.forRoot(), or make those routes @Public() or name their kind';
    const appGuard = (useClass: Type) => ({ provide: APP_GUARD, useClass });
    expect(await startUp(keysOnly(), { controllers, providers: [appGuard(AuthenticatedGuard)] })).toBe(refused);
    expect(await startUp(keysOnly(), { controllers, providers: [appGuard(SubclassGuard)] })).toBe(refused);
    expect(await startUp(keysOnly(), { controllers, providers: [appGuard(RequestScopedGuard)] })).toBe(refused);
    const useGlobalGuards = (app: INestApplication) => app.useGlobalGuards(app.get(AuthenticatedGuard));
    expect(await startUp(keysOnly(), { controllers, configure: useGlobalGuards })).toBe(refused);
    // No global guard: an undecorated route is not guarded, and needs no kind.
    expect(await startUp(keysOnly(), { controllers })).toBe('started');
    // Every route public or naming its kind: nothing needs the default kind.
    const guarded = { controllers: [OpenController], providers: [appGuard(AuthenticatedGuard)] };
    expect(await startUp(keysOnly(), guarded)).toBe('started');
    expect(await startUp([EctoSessionsModule.forRoot({}), ...keysOnly()], { ...guarded, controllers })).toBe('started');
  });

  it('what kinds share is registered once: one guard, one start-up scan, however many kinds', async () => {
    const scan = jest.spyOn(AuthenticatedKindsCheck.prototype, 'onApplicationBootstrap');
    const t = await createTestApp({ kinds: [{}, { name: 'apiKeys' }, { name: 'devices' }] });
    try {
      expect(scan).toHaveBeenCalledTimes(1);
      // Nest's own record of which modules provide the guard (it has no public API for that).
      const container = (
        t.app as unknown as { container: { getModules(): Map<string, { providers: Map<unknown, unknown> }> } }
      ).container;
      const providing = [...container.getModules().values()].filter((m) => m.providers.has(AuthenticatedGuard));
      expect(providing).toHaveLength(1);
    } finally {
      scan.mockRestore();
      await t.close();
    }
  });

  it('two kinds side by side, each with its own table, service and injection token', async () => {
    const t = await createTestApp({
      kinds: [{}, { name: 'apiKeys', ttl: null, tokenLength: 48 }],
      providers: [Admin],
    });
    try {
      const admin = t.app.get(Admin);
      expect(admin.sessions).toBe(t.sessions());
      expect(admin.apiKeys.options.tableName).toBe('api_keys');
      const browser = await admin.sessions.create({ userId: 'u' });
      const key = await admin.apiKeys.create({ userId: 'u', data: { name: 'ci' } });
      expect(key.token).toHaveLength(48);
      expect(key.session.expiresAt).toBeNull();
      expect(await admin.apiKeys.authenticate(browser.token)).toBeNull();
      expect(await admin.sessions.authenticate(key.token)).toBeNull();
      expect((await admin.apiKeys.authenticate(key.token))?.data).toEqual({ name: 'ci' });
      const tables = await t.orm.em
        .getConnection()
        .execute("SELECT tablename FROM pg_tables WHERE tablename IN ('sessions', 'api_keys') ORDER BY 1");
      expect(tables.map((r: { tablename: string }) => r.tablename)).toEqual(['api_keys', 'sessions']);
    } finally {
      await t.close();
    }
  });

  it('many apps in one process register the entity once', async () => {
    for (let i = 0; i < 3; i++) {
      const t = await createTestApp({
        kinds: [{ columns: i === 1 ? { userId: { type: 'string' }, tenant: {} } : undefined }],
      });
      const names = Object.values(t.orm.getMetadata().getAll()).map((meta) => meta.className);
      expect(names.filter((n) => n === 'Session')).toHaveLength(1);
      await t.close();
    }
  });

  it('works with a plain MikroORM handed in through forRootAsync', async () => {
    const entity = sessionEntity(resolveSessionsOptions({ tableName: 'plain_sessions' }));
    const orm = await MikroORM.init({ ...ormOptions(), entities: [entity] });
    try {
      await recreateTables(orm);
      const moduleRef = await Test.createTestingModule({
        imports: [EctoSessionsModule.forRootAsync({ tableName: 'plain_sessions', useFactory: () => ({ orm }) })],
      }).compile();
      const sessions = moduleRef.get(SessionsService);
      const { token } = await sessions.create({ userId: 'u' });
      expect(await sessions.authenticate(token)).not.toBeNull();
      await moduleRef.close();
    } finally {
      await orm.close();
    }
  });
});
