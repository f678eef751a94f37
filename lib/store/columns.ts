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
  /** Written but never read back onto a session (the previous token's digest). */
  writeOnly?: true;
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

/**
 * The columns each opt-in security feature adds (DESIGN §6); a kind that uses
 * none keeps the seed's table exactly. Times here are `timestamptz`, as the
 * schema generator makes them, and are written with the database's clock.
 */
export const FEATURE_COLUMNS = {
  rotation: [
    {
      property: 'previousAuthTokenDigest',
      field: 'previous_auth_token_digest',
      type: 'string',
      nullable: true,
      length: 255,
      writeOnly: true,
    },
    { property: 'rotatedAt', field: 'rotated_at', type: 'datetime', nullable: true },
  ],
  scopes: [{ property: 'scopes', field: 'scopes', type: 'json', nullable: false }],
  trackLastUsed: [{ property: 'lastUsedAt', field: 'last_used_at', type: 'datetime', nullable: true }],
} as const satisfies Record<string, readonly Column[]>;

/** Which features a kind has on: the parts of its options that add columns (absent = off). */
export interface FeatureSwitches {
  rotation?: unknown;
  scopes?: boolean;
  trackLastUsed?: number | null;
}

const ALL_FEATURE_COLUMNS: readonly Column[] = Object.values(FEATURE_COLUMNS).flat();

/**
 * Properties of every session, stored or computed, and of every feature's
 * columns: an extra column may not reuse them.
 */
export const BUILT_IN_PROPERTIES: ReadonlySet<string> = new Set([
  ...[...BUILT_IN_COLUMNS, ...ALL_FEATURE_COLUMNS].map((c) => c.property),
  'isExpired',
]);

/** Column names of every session table and feature: an extra column may not reuse them. */
export const BUILT_IN_FIELDS: ReadonlySet<string> = new Set(
  [...BUILT_IN_COLUMNS, ...ALL_FEATURE_COLUMNS].map((c) => c.field),
);

/** An extra column as the resolved options hold it. */
export interface ExtraColumn {
  type: ColumnType;
  fieldName: string;
  nullable: boolean;
  index: boolean;
  length: number;
}

/** The columns of the features a kind has on. */
export function featureColumnsOf(features?: FeatureSwitches): Column[] {
  return [
    ...(features?.rotation ? FEATURE_COLUMNS.rotation : []),
    ...(features?.scopes === true ? FEATURE_COLUMNS.scopes : []),
    ...(features?.trackLastUsed != null ? FEATURE_COLUMNS.trackLastUsed : []),
  ];
}

/** The built-in columns, those of the features the kind has on, then its extra ones. */
export function columnsOf(extra: Record<string, ExtraColumn>, features?: FeatureSwitches): Column[] {
  return [
    ...BUILT_IN_COLUMNS,
    ...featureColumnsOf(features),
    ...Object.entries(extra).map(([property, c]) => ({
      property,
      field: c.fieldName,
      type: c.type,
      nullable: c.nullable,
      ...(c.type === 'string' ? { length: c.length } : {}),
    })),
  ];
}
