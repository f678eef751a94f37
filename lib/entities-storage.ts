import type { EntitySchema } from '@mikro-orm/core';

interface EntitiesStorage {
  addEntity(entity: unknown, contextName?: string): void;
  getEntities(contextName?: string): Iterable<unknown>;
}

/**
 * Registers a kind's entity for `autoLoadEntities` of `@mikro-orm/nestjs`, when
 * that package is installed (it is optional: a plain `MikroORM` works too).
 * A previous entity of the same name (same kind, other shape) is taken out
 * first, so that building many apps in one process never registers duplicates.
 */
export function registerEntity(entity: EntitySchema, contextName?: string): void {
  let storage: EntitiesStorage | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    storage = require('@mikro-orm/nestjs').MikroOrmEntitiesStorage;
  } catch {
    return;
  }
  if (!storage) return;
  const registered = [...storage.getEntities(contextName)];
  for (const other of registered) {
    if (other !== entity && (other as EntitySchema).meta?.className === entity.meta.className) {
      // The storage has no removal API; its sets are keyed by context name.
      (storage as unknown as { storage?: Map<string, Set<unknown>> }).storage
        ?.get(contextName ?? 'default')
        ?.delete(other);
    }
  }
  storage.addEntity(entity, contextName);
}
