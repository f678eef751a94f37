import { dirname, join } from 'node:path';
import { UnsupportedOrmError } from '../errors';
import { SUPPORTED_MIKRO_ORM_MAJORS } from './supported-versions';

/**
 * What differs between the two MikroORM majors this library supports, in one
 * place. The library itself is CommonJS: on MikroORM 7 (ES modules only) it
 * reaches `@mikro-orm/core` and `@mikro-orm/nestjs` through Node's
 * `require(esm)`, which gives the very module instances the app imports.
 *
 * Everything the library calls is the same on 6.6 and 7.x (`EntitySchema`,
 * `em.getContext(false)`, `em.getTransactionContext()`,
 * `connection.execute(sql, params, 'all' | 'run', trx)`, `connection.transactional`,
 * `connection.getConnectionOptions()`, the `MikroORM` injection token), with
 * two differences handled here:
 * - `@mikro-orm/nestjs` 7 has an `exports` map, so its entity storage (not in its
 *   index) is reached by file path instead of a deep import;
 * - the versions are checked at start-up, so an unsupported or mixed install fails
 *   with a message naming the supported ones instead of somewhere deep in the ORM.
 *
 * Also different, and needing nothing: MikroORM 7 inlines `?` parameters into the
 * SQL text (escaped by its platform) where 6 sends them to the server as bind
 * parameters; the statements select timestamps as epoch
 * seconds as text (`epochText`), the same on both.
 */

/** The installed versions that matter here; `undefined` for a package that is not installed. */
export interface OrmVersions {
  core: string | undefined;
  nestjs: string | undefined;
}

function installedVersion(name: string): string | undefined {
  try {
    // Both majors export their package.json.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(`${name}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The installed `@mikro-orm/core` and `@mikro-orm/nestjs`, as this library resolves them. */
export function installedOrmVersions(): OrmVersions {
  return { core: installedVersion('@mikro-orm/core'), nestjs: installedVersion('@mikro-orm/nestjs') };
}

function majorOf(version: string): number {
  return Number.parseInt(version, 10);
}

/**
 * Throws an {@link UnsupportedOrmError} unless `@mikro-orm/core` is of a supported
 * major and `@mikro-orm/nestjs`, when installed, is of the same major.
 */
export function assertSupportedOrm(versions: OrmVersions): void {
  const { core, nestjs } = versions;
  if (core === undefined) throw new UnsupportedOrmError('@mikro-orm/core is not installed');
  const major = majorOf(core);
  if (!SUPPORTED_MIKRO_ORM_MAJORS.includes(major)) {
    throw new UnsupportedOrmError(`@mikro-orm/core ${core} is not supported`);
  }
  if (nestjs !== undefined && majorOf(nestjs) !== major) {
    throw new UnsupportedOrmError(
      `@mikro-orm/nestjs ${nestjs} does not go with @mikro-orm/core ${core}; install @mikro-orm/nestjs@${major}`,
    );
  }
}

let checked = false;

/** {@link assertSupportedOrm} on the installed packages, once a process. */
export function assertInstalledOrmSupported(): void {
  if (checked) return;
  assertSupportedOrm(installedOrmVersions());
  checked = true;
}

/** The static side of `@mikro-orm/nestjs`'s `MikroOrmEntitiesStorage`, as far as this library uses it. */
export interface EntitiesStorage {
  storage?: Map<string, Set<unknown>>;
  getEntities(contextName?: string): Iterable<unknown>;
}

/**
 * `MikroOrmEntitiesStorage` of `@mikro-orm/nestjs`, which its index does not
 * export; `undefined` when the package is absent or the file moved. On 6 a deep
 * import reaches it; 7 has an `exports` map that forbids that, so the file is
 * loaded by its path, which Node maps to the same module instance as the
 * package's own import of it.
 */
export function loadEntitiesStorage(): EntitiesStorage | undefined {
  const candidates = [
    () => '@mikro-orm/nestjs/mikro-orm.entities.storage',
    () => join(dirname(require.resolve('@mikro-orm/nestjs/package.json')), 'mikro-orm.entities.storage.js'),
  ];
  for (const candidate of candidates) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const storage = require(candidate()).MikroOrmEntitiesStorage as EntitiesStorage | undefined;
      if (storage) return storage;
    } catch {
      // next candidate
    }
  }
  return undefined;
}
