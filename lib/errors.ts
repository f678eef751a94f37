import { SUPPORTED_VERSIONS_TEXT } from './orm/supported-versions';

/**
 * The base of every error this library throws on purpose, so callers can catch
 * them by type: `if (error instanceof EctoSessionsError)`. Every message starts
 * with `EctoSessions`, and the kind when there is one.
 */
export class EctoSessionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad option: thrown at start-up, naming the option and the kind. */
export class SessionsOptionsError extends EctoSessionsError {
  constructor(kind: string, option: string, problem: string) {
    super(`EctoSessions (kind "${kind}"): option "${option}" ${problem}`);
  }
}

/** The database did not answer within `statementTimeout`. */
export class SessionsTimeoutError extends EctoSessionsError {
  constructor(kind: string, seconds: number) {
    super(`EctoSessions (kind "${kind}"): the database did not answer within ${seconds} s`);
  }
}

/** An unsupported or mixed MikroORM install, found at start-up. */
export class UnsupportedOrmError extends EctoSessionsError {
  constructor(problem: string) {
    super(`EctoSessions: ${problem}. Supported: ${SUPPORTED_VERSIONS_TEXT}.`);
  }
}

/** An `@Authenticated()` that names no registered kind, found at start-up. */
export class UnknownKindError extends EctoSessionsError {}

/** `create` at the `maxPerUser` cap with `onLimit: 'refuse'`: nothing was created. */
export class SessionLimitError extends EctoSessionsError {
  constructor(
    kind: string,
    /** The cap that was reached. */
    readonly max: number,
  ) {
    super(`EctoSessions (kind "${kind}"): this user already has ${max} valid sessions, the most allowed (maxPerUser)`);
  }
}
