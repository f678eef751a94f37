import type { Session } from '../store/session.entity';

/** Names under which events are emitted through `@nestjs/event-emitter`, when the app has it. */
export const SESSION_EVENTS = {
  created: 'sessions.created',
  extended: 'sessions.extended',
  expired: 'sessions.expired',
  deleted: 'sessions.deleted',
  pruned: 'sessions.pruned',
  rotated: 'sessions.rotated',
} as const;

/** A session changed. Carries the session, never its token or digest. */
export interface SessionEvent {
  /** The kind's name. */
  kind: string;
  session: Session;
}

/** Expired rows were pruned. */
export interface SessionsPrunedEvent {
  kind: string;
  count: number;
}

type Hook<E> = (event: E) => void | Promise<void>;

/**
 * Hooks for audit logs, given as options. A hook that throws (or rejects) is
 * logged and never breaks the operation.
 */
export interface SessionEventHooks {
  onCreated?: Hook<SessionEvent>;
  /** A sliding extension, or `extend()`, moved the expiry. */
  onExtended?: Hook<SessionEvent>;
  onExpired?: Hook<SessionEvent>;
  /** Once per deleted session (`delete`, `deleteAll`, `deleteExpired`); pruning reports `onPruned` instead. */
  onDeleted?: Hook<SessionEvent>;
  onPruned?: Hook<SessionsPrunedEvent>;
  /** A session got a new token (`rotate()`, or the guard's reissue with `rotation.every`). */
  onRotated?: Hook<SessionEvent>;
}
