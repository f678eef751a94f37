import type { EctoSessionsOptions } from '../../lib';
import { createTestApp, type TestApp, type TestAppOptions } from './app';
import { MeController } from './me.controller';
import { until } from './until';

/**
 * Two instances of one app (the same kinds, one table), both answering `/me` over
 * HTTP, once both caches serve: two servers of one deployment. `orm`: MikroORM
 * options over the test database's (e.g. a pooler's `clientUrl`).
 */
export async function twoServingInstances(
  kinds: EctoSessionsOptions[],
  orm?: TestAppOptions['orm'],
): Promise<[TestApp, TestApp]> {
  const a = await createTestApp({ kinds, orm, controllers: [MeController], listen: true });
  const b = await createTestApp({ kinds, orm, controllers: [MeController], listen: true, recreate: false });
  await until(() => a.sessions().cacheStatus.serving && b.sessions().cacheStatus.serving, 'both caches serve');
  return [a, b];
}

/** `GET /me` on an instance with a token in the `x-auth-token` header. */
export const me = (t: TestApp, token: string) => fetch(`${t.url}/me`, { headers: { 'x-auth-token': token } });
