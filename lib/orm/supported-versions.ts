/** The MikroORM majors this library is tested with. */
export const SUPPORTED_MIKRO_ORM_MAJORS: readonly number[] = [6, 7];

/** How the supported versions read in an error message (keep in step with the README's table). */
export const SUPPORTED_VERSIONS_TEXT =
  'MikroORM 6 (@mikro-orm/core and @mikro-orm/nestjs 6.x, NestJS 11, Node >= 20.19) ' +
  'or MikroORM 7 (@mikro-orm/core and @mikro-orm/nestjs 7.x, NestJS 11 or 12, Node >= 22.17)';
