import { Inject, Injectable } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { UnknownKindError } from '../errors';
import { SessionsService } from '../service/sessions.service';
import type { KindHealth } from './kind-health';
import { type HealthIndicatorResult, SessionsHealthCheckError, throwsWhenDown } from './terminus';

/** What `isHealthy` reports under its key, beside `status`. */
export interface SessionsHealthDetails {
  /** Each kind checked, by name. */
  kinds: Record<string, KindHealth>;
}

/** What `isHealthy` answers: terminus's `HealthIndicatorResult` shape. */
export type SessionsHealthResult<Key extends string = 'sessions'> = HealthIndicatorResult<Key, SessionsHealthDetails>;

export interface SessionsHealthOptions {
  /** The kinds to check, by name. @default every registered kind */
  kinds?: string[];
  /** How long each kind's checks wait for the database, in milliseconds (as terminus's own indicators). @default 2000 */
  timeout?: number;
}

/**
 * A health indicator for `@nestjs/terminus` (an optional peer, like
 * `@nestjs/swagger`): every kind's database reachable, its listener's state,
 * its cache and, where replicas are read, their lag. Down only when a kind's
 * database does not answer: a bypassed cache or a pooler still serves sessions.
 *
 * Nothing of terminus is imported: the result is the plain object terminus
 * reads, so this file loads (and the indicator works, called by hand) without
 * it. Add it to the providers of the module whose controller runs the checks,
 * and call it from the `@HealthCheck()` route, beside terminus's own indicators:
 *
 * @example
 * return this.health.check([() => this.sessions.isHealthy('sessions')]);
 */
@Injectable()
export class SessionsHealthIndicator {
  constructor(@Inject(ModulesContainer) private readonly modules: ModulesContainer) {}

  /**
   * `{ [key]: { status: 'up' | 'down', kinds: { [name]: KindHealth } } }`.
   * With terminus 10 or older installed, a `down` result is thrown (as their
   * `HealthCheckError`), which is how those versions are told.
   */
  async isHealthy<Key extends string = 'sessions'>(
    key: Key = 'sessions' as Key,
    options: SessionsHealthOptions = {},
  ): Promise<SessionsHealthResult<Key>> {
    const services = this.services(options.kinds);
    const checked = await Promise.all(
      services.map(async (service) => [service.name, await service.health(options.timeout)] as const),
    );
    const kinds = Object.fromEntries(checked) as Record<string, KindHealth>;
    const down = checked.filter(([, health]) => health.database === 'down').map(([name]) => name);
    const result = { [key]: { status: down.length ? 'down' : 'up', kinds } } as SessionsHealthResult<Key>;
    if (down.length && throwsWhenDown()) {
      throw new SessionsHealthCheckError(`EctoSessions: database unreachable for kind(s) ${down.join(', ')}`, result);
    }
    return result;
  }

  /** The registered kinds' services, in registration order; `names` picks some (an unknown name throws). */
  private services(names?: string[]): SessionsService[] {
    const found = new Map<string, SessionsService>();
    for (const module of this.modules.values()) {
      for (const wrapper of module.providers.values()) {
        const instance: unknown = wrapper.isDependencyTreeStatic() ? wrapper.instance : undefined;
        if (instance instanceof SessionsService && !found.has(instance.name)) found.set(instance.name, instance);
      }
    }
    if (!names) return [...found.values()];
    return names.map((name) => {
      const service = found.get(name);
      if (!service) {
        throw new UnknownKindError(
          `EctoSessions: SessionsHealthIndicator: no session kind named "${name}"; registered: ${[...found.keys()].join(', ') || 'none'}`,
        );
      }
      return service;
    });
  }
}
