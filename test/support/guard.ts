import type { CanActivate, ExecutionContext } from '@nestjs/common';

/**
 * Runs a guard as Nest does: whatever `canActivate` gives (a boolean, a
 * promise) is awaited, and a synchronous throw becomes a rejection.
 */
export function activate(guard: CanActivate, context: ExecutionContext): Promise<unknown> {
  return Promise.resolve().then(() => guard.canActivate(context));
}
