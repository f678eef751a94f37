import { logger } from '../logger';
import type { ModuleRef } from '@nestjs/core';
import {
  SESSION_EVENTS,
  type SessionEvent,
  type SessionEventHooks,
  type SessionsPrunedEvent,
} from './session-events.interface';

interface Emitter {
  emitAsync(event: string, payload: unknown): Promise<unknown>;
}

type EventName = keyof typeof SESSION_EVENTS;
type Payload<E extends EventName> = E extends 'pruned' ? SessionsPrunedEvent : SessionEvent;
const HOOK: Record<EventName, keyof SessionEventHooks> = {
  created: 'onCreated',
  extended: 'onExtended',
  expired: 'onExpired',
  deleted: 'onDeleted',
  pruned: 'onPruned',
  rotated: 'onRotated',
};

/**
 * Delivers a kind's events to its hooks and, when the app has
 * `@nestjs/event-emitter`, to its `EventEmitter2`. A listener that throws or
 * rejects is logged (without the session) and never breaks the operation.
 */
export class SessionEvents {
  private emitter: Emitter | undefined;

  constructor(private readonly hooks: SessionEventHooks) {}

  /** Finds the app's `EventEmitter2`, if it has one. */
  connect(moduleRef: ModuleRef | undefined): void {
    if (!moduleRef) return;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { EventEmitter2 } = require('@nestjs/event-emitter');
      this.emitter = moduleRef.get(EventEmitter2, { strict: false });
    } catch {
      this.emitter = undefined; // not installed, or EventEmitterModule not imported
    }
  }

  /** Whether anyone listens to `name`: when nobody does, the caller can skip building payloads. */
  listens(name: EventName): boolean {
    return this.hooks[HOOK[name]] !== undefined || this.emitter !== undefined;
  }

  emit<E extends EventName>(name: E, payload: Payload<E>): void {
    const hook = this.hooks[HOOK[name]] as ((event: Payload<E>) => unknown) | undefined;
    if (hook) this.guard(name, () => hook(payload));
    if (this.emitter) this.guard(name, () => this.emitter!.emitAsync(SESSION_EVENTS[name], payload));
  }

  private guard(name: string, call: () => unknown): void {
    // Payloads never hold a token or digest, so the listener's own message is safe to log.
    const report = (error: unknown) =>
      logger.warn(`A "${name}" session event listener failed: ${String((error as Error)?.message ?? error)}`);
    try {
      const result = call();
      if (result && typeof (result as Promise<unknown>).then === 'function')
        (result as Promise<unknown>).then(undefined, report);
    } catch (error) {
      report(error);
    }
  }
}
