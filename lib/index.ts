export * from './http/authenticated.guard';
export { appendSetCookie, clearedSessionCookie, sessionCookie, type ResponseLike } from './http/cookies';
export * from './http/decorators/authenticated.decorator';
export * from './http/decorators/current-session.decorator';
export * from './http/decorators/inject-sessions.decorator';
export { OPENAPI_SCHEMES } from './http/openapi';
export * from './http/decorators/public.decorator';
export { parseDuration } from './options/duration';
export * from './http/authenticated-options.interface';
export * from './events/session-events.interface';
export * from './service/filters.interface';
export * from './options/options.interface';
export { Session, sessionEntity } from './store/session.entity';
export { AUTHENTICATED_KEY, DEFAULT_KIND, PUBLIC_KEY, SESSION_REQUEST_KEY } from './constants';
export { type EctoSessionsAsyncOptions, EctoSessionsModule } from './module/ecto-sessions.module';
export type { EctoSessionsOptionsFactory } from './module/module-definition';
export { DEFAULT_COLUMNS, resolveSessionsOptions } from './options/resolve-options';
export {
  EctoSessionsError,
  SessionLimitError,
  SessionsOptionsError,
  SessionsTimeoutError,
  UnknownKindError,
  UnsupportedOrmError,
} from './errors';
export { type KindOptions, type SessionOrId, SessionsService } from './service/sessions.service';
export type { Created } from './service/attributes';
export { getSessionsOptionsToken, getSessionsToken } from './module/injection-tokens';
export { extractToken, type RequestLike } from './http/token-extraction';
export { DEFAULT_TOKEN_LENGTH, digest, generateToken, isWellFormedToken, MIN_TOKEN_LENGTH } from './tokens/auth-token';
export {
  SessionsHealthIndicator,
  type SessionsHealthDetails,
  type SessionsHealthOptions,
  type SessionsHealthResult,
} from './health/sessions-health.indicator';
export type { KindHealth, ReplicaHealth } from './health/kind-health';
export { SessionsHealthCheckError } from './health/terminus';
