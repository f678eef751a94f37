import type { ModulesContainer } from '@nestjs/core';
import type { KindHealth } from './kind-health';

const up: KindHealth = {
  database: 'up',
  listener: 'listening',
  cache: { enabled: true, serving: true, size: 3 },
  reads: 'primary',
};
const down: KindHealth = { ...up, database: 'down', error: 'ECONNREFUSED', listener: 'unreachable' };

/**
 * The indicator with a given `@nestjs/terminus` version installed (or none), over
 * fake kinds: modules loaded afresh, so the version is read again.
 */
function indicatorWith(version: string | null, kinds: Record<string, KindHealth>) {
  let made: { isHealthy(key?: string): Promise<unknown> } | undefined;
  jest.isolateModules(() => {
    if (version === null) {
      jest.doMock('@nestjs/terminus/package.json', () => {
        throw Object.assign(new Error("Cannot find module '@nestjs/terminus/package.json'"), {
          code: 'MODULE_NOT_FOUND',
        });
      });
    } else {
      jest.doMock('@nestjs/terminus/package.json', () => ({ version }));
    }
    /* eslint-disable @typescript-eslint/no-require-imports */
    // Read now, while the mock is in place (the indicator reads it once, then keeps it).
    (require('./terminus') as typeof import('./terminus')).terminusMajor();
    const { SessionsService } = require('../service/sessions.service') as typeof import('../service/sessions.service');
    const { SessionsHealthIndicator } =
      require('./sessions-health.indicator') as typeof import('./sessions-health.indicator');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const providers = Object.entries(kinds).map(([name, health]) => {
      const service = Object.create(SessionsService.prototype) as InstanceType<typeof SessionsService>;
      Object.assign(service, { options: { name }, health: async () => health });
      return { instance: service, isDependencyTreeStatic: () => true };
    });
    const modules = new Map([['m', { providers: new Map(providers.map((p, i) => [i, p])) }]]);
    made = new SessionsHealthIndicator(modules as unknown as ModulesContainer);
  });
  jest.dontMock('@nestjs/terminus/package.json');
  return made!;
}

describe('SessionsHealthIndicator and the installed terminus', () => {
  it.each(['11.1.1', '12.1.0'])('terminus %s: a down kind is returned with status down', async (version) => {
    const result = await indicatorWith(version, { default: up, apiKeys: down }).isHealthy();
    expect(result).toEqual({ sessions: { status: 'down', kinds: { default: up, apiKeys: down } } });
  });

  it('no terminus: returned too (the indicator called by hand)', async () => {
    const result = await indicatorWith(null, { default: down }).isHealthy('db');
    expect(result).toEqual({ db: { status: 'down', kinds: { default: down } } });
  });

  it("terminus 10: a down kind is thrown as their HealthCheckError (marked, carrying the result as 'causes')", async () => {
    const error = await indicatorWith('10.3.0', { default: up, apiKeys: down })
      .isHealthy()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      isHealthCheckError: true,
      causes: { sessions: { status: 'down', kinds: { default: up, apiKeys: down } } },
      message: 'EctoSessions: database unreachable for kind(s) apiKeys',
    });
  });

  it('terminus 10: up is returned', async () => {
    const result = await indicatorWith('10.3.0', { default: up }).isHealthy();
    expect(result).toEqual({ sessions: { status: 'up', kinds: { default: up } } });
  });
});
