import { EctoSessionsError, UnsupportedOrmError } from '../errors';
import { assertSupportedOrm, installedOrmVersions, loadEntitiesStorage } from './orm-compat';
import { SUPPORTED_VERSIONS_TEXT } from './supported-versions';

describe('orm-compat', () => {
  it('accepts MikroORM 6 and 7, with or without @mikro-orm/nestjs of the same major', () => {
    expect(() => assertSupportedOrm({ core: '6.6.16', nestjs: '6.1.2' })).not.toThrow();
    expect(() => assertSupportedOrm({ core: '7.2.5', nestjs: '7.1.0' })).not.toThrow();
    expect(() => assertSupportedOrm({ core: '7.0.0', nestjs: undefined })).not.toThrow();
  });

  it('refuses another major, naming the supported versions', () => {
    for (const core of ['5.9.8', '8.0.0']) {
      const attempt = () => assertSupportedOrm({ core, nestjs: undefined });
      expect(attempt).toThrow(UnsupportedOrmError);
      expect(attempt).toThrow(EctoSessionsError);
      expect(attempt).toThrow(`@mikro-orm/core ${core} is not supported`);
      expect(attempt).toThrow(SUPPORTED_VERSIONS_TEXT);
    }
  });

  it('refuses @mikro-orm/nestjs of another major than @mikro-orm/core, saying which to install', () => {
    expect(() => assertSupportedOrm({ core: '7.2.5', nestjs: '6.1.2' })).toThrow(
      '@mikro-orm/nestjs 6.1.2 does not go with @mikro-orm/core 7.2.5; install @mikro-orm/nestjs@7',
    );
    expect(() => assertSupportedOrm({ core: '6.6.16', nestjs: '7.1.0' })).toThrow(/install @mikro-orm\/nestjs@6/);
  });

  it('refuses a missing @mikro-orm/core', () => {
    expect(() => assertSupportedOrm({ core: undefined, nestjs: undefined })).toThrow(
      '@mikro-orm/core is not installed',
    );
  });

  it('finds the installed versions and the entity storage of @mikro-orm/nestjs', () => {
    const versions = installedOrmVersions();
    expect(versions.core).toMatch(/^\d+\.\d+\.\d+/);
    expect(() => assertSupportedOrm(versions)).not.toThrow();
    const storage = loadEntitiesStorage();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MikroOrmModule } = require('@mikro-orm/nestjs');
    const marker = { meta: { className: 'OrmCompatMarker' } };
    MikroOrmModule.forFeature([marker], 'orm-compat-spec');
    expect([...storage!.getEntities('orm-compat-spec')]).toContain(marker);
  });
});
