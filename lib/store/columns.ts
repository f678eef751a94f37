/** Column types an extra column may have, mapped to PostgreSQL types by MikroORM. */
export const COLUMN_TYPES = [
  'string',
  'text',
  'uuid',
  'integer',
  'bigint',
  'double',
  'boolean',
  'json',
  'datetime',
] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** One column of a kind's table, as the entity, the statements and the options see it. */
export interface Column {
  /** The session's property. */
  property: string;
  /** The table's column. */
  field: string;
  type: ColumnType;
  nullable: boolean;
  /** Length of a `string` column. */
  length?: number;
}

/**
 * The columns every session table has: the seed's migration, so a table the
 * Elixir library made is read and written as is. The one list of them.
 */
export const BUILT_IN_COLUMNS: readonly Column[] = [
  { property: 'id', field: 'id', type: 'uuid', nullable: false },
  { property: 'authTokenDigest', field: 'auth_token_digest', type: 'string', nullable: false, length: 255 },
  { property: 'data', field: 'data', type: 'json', nullable: false },
  { property: 'expiresAt', field: 'expires_at', type: 'datetime', nullable: true },
  { property: 'insertedAt', field: 'inserted_at', type: 'datetime', nullable: false },
  { property: 'updatedAt', field: 'updated_at', type: 'datetime', nullable: false },
];

/** Properties of every session, stored or computed: an extra column may not reuse them. */
export const BUILT_IN_PROPERTIES: ReadonlySet<string> = new Set([
  ...BUILT_IN_COLUMNS.map((c) => c.property),
  'isExpired',
]);

/** Column names of every session table: an extra column may not reuse them. */
export const BUILT_IN_FIELDS: ReadonlySet<string> = new Set(BUILT_IN_COLUMNS.map((c) => c.field));

/** An extra column as the resolved options hold it. */
export interface ExtraColumn {
  type: ColumnType;
  fieldName: string;
  nullable: boolean;
  index: boolean;
  length: number;
}

/** The built-in columns, then the kind's extra ones. */
export function columnsOf(extra: Record<string, ExtraColumn>): Column[] {
  return [
    ...BUILT_IN_COLUMNS,
    ...Object.entries(extra).map(([property, c]) => ({
      property,
      field: c.fieldName,
      type: c.type,
      nullable: c.nullable,
      ...(c.type === 'string' ? { length: c.length } : {}),
    })),
  ];
}
