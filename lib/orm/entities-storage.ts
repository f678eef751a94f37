import type { EntitySchema } from '@mikro-orm/core';
import { loadEntitiesStorage } from './orm-compat';

/**
 * Registers a kind's entity for `autoLoadEntities` of `@mikro-orm/nestjs`, when
 * that package is installed (it is optional: a plain `MikroORM` works too).
 *
 * A previous entity of the same name (same kind, other shape) is taken out
 * first, so that building many apps in one process never registers duplicates.
 * The storage is process-wide, so it cannot tell an earlier app's kind from a
 * second kind of the same name in one app: that one fails at start-up instead
 * (`module/kinds-registered-once.ts`).
 */
export function registerEntity(entity: EntitySchema, contextName?: string): void {
  let nestjs: { MikroOrmModule?: { forFeature(entities: unknown[], contextName?: string): unknown } };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    nestjs = require('@mikro-orm/nestjs');
  } catch {
    return;
  }
  forgetSameName(entity, contextName);
  // Only for its side effect of adding the entity to the auto-load storage: the
  // module it returns would need an EntityManager we may not have.
  nestjs.MikroOrmModule?.forFeature([entity], contextName);
}

function forgetSameName(entity: EntitySchema, contextName = 'default'): void {
  // Not part of the package's index (on 7 not even importable by name); best effort, as it has no removal API.
  const storage = loadEntitiesStorage();
  const set = storage?.storage?.get(contextName);
  for (const other of set ?? []) {
    if (other !== entity && (other as EntitySchema).meta?.className === entity.meta.className) set!.delete(other);
  }
}
