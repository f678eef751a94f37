/** The parts of a MikroORM 6 or 7 instance used here (their generic types differ). */
interface AnyMikroOrm {
  schema: unknown;
  getMetadata(): { getAll(): unknown };
}

/** Drops and re-creates the tables: `refresh()` on MikroORM 7, `refreshDatabase()` on 6. */
export async function recreateSchema(orm: AnyMikroOrm): Promise<void> {
  const schema = orm.schema as { refresh?(): Promise<void>; refreshDatabase?(): Promise<void> };
  await (schema.refresh ? schema.refresh() : schema.refreshDatabase!());
}

/** Every entity's metadata: a Map on MikroORM 7, a plain object on 6. */
export function allMetadata(orm: AnyMikroOrm): any[] {
  const all = orm.getMetadata().getAll();
  return all instanceof Map ? [...all.values()] : Object.values(all as Record<string, unknown>);
}
