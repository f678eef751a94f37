import type { LoadRequest } from './load-generator';

/**
 * The library's apps, each measured on the same four routes. `plain`: nothing
 * else mounted. `mixed`: cookie-parser and express-session mounted app-wide
 * first, as in an app migrating off express-session, so every route (floor and
 * public too) runs behind them on requests that carry no session cookie.
 */
export const APPS = ['plain', 'mixed'] as const;
export type AppName = (typeof APPS)[number];

export const SCENARIOS = [
  'public',
  'floor',
  'authenticated',
  'cached',
  'nest-guard',
  'express-session',
  'mixed-public',
  'mixed-floor',
  'mixed-authenticated',
  'mixed-cached',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The library app's four routes, measured in each app. */
export type LibraryRoute = 'public' | 'floor' | 'authenticated' | 'cached';

/** A route's scenario in an app: `authenticated` in the plain app, `mixed-authenticated` in the mixed one. */
export function scenarioOf(app: AppName, route: LibraryRoute): ScenarioName {
  return app === 'plain' ? route : `${app}-${route}`;
}

/** The scenarios of each app: the plain one also runs express-session, the comparison a user would face. */
export const SCENARIOS_OF: Record<AppName, readonly ScenarioName[]> = {
  plain: ['public', 'floor', 'authenticated', 'cached', 'nest-guard', 'express-session'],
  mixed: ['mixed-public', 'mixed-floor', 'mixed-authenticated', 'mixed-cached'],
};

/** One route under load; every scenario sends a rotating header, so the client's work is the same for all. */
export interface Scenario {
  name: ScenarioName;
  /** What the route does, for the table. */
  description: string;
  target: Pick<LoadRequest, 'url' | 'header' | 'values'>;
}

const BEHIND = ', behind cookie-parser + express-session';
export const DESCRIPTIONS: Record<ScenarioName, string> = {
  public: 'Nest route, no guard, no database',
  floor: 'hand-written lookup by digest on a plain pg.Pool',
  authenticated: '@Authenticated() route (nestjs-ecto-sessions)',
  cached: "@Authenticated() route, cache: { ttl: '10m', max: 200_000 }",
  'nest-guard': "a guard that returns true and a param decorator that returns a constant: Nest's own cost of any guard",
  'express-session': 'express-session + connect-pg-simple (defaults)',
  'mixed-public': `public${BEHIND}`,
  'mixed-floor': `floor${BEHIND}`,
  'mixed-authenticated': `authenticated${BEHIND}`,
  'mixed-cached': `cached${BEHIND}`,
};

/** Base URLs of the apps a main run loads; `mixed` only when that app runs. */
export interface AppUrls {
  library: string;
  cached: string;
  expressSession: string;
  mixed?: { library: string; cached: string };
}

/** The scenarios of the main run, for the apps asked for (in `SCENARIOS` order). */
export function mainScenarios(
  urls: AppUrls,
  apps: readonly AppName[],
  tokens: string[],
  cookies: string[],
): Scenario[] {
  const token = { header: 'x-auth-token', values: tokens };
  const { mixed } = urls;
  const targets: Partial<Record<ScenarioName, Scenario['target']>> = {
    public: { url: `${urls.library}/public`, ...token },
    floor: { url: `${urls.library}/floor`, ...token },
    authenticated: { url: `${urls.library}/authenticated`, ...token },
    cached: { url: `${urls.cached}/authenticated`, ...token },
    'nest-guard': { url: `${urls.cached}/nest-guard`, ...token },
    'express-session': { url: `${urls.expressSession}/express-session`, header: 'cookie', values: cookies },
    ...(mixed && {
      'mixed-public': { url: `${mixed.library}/public`, ...token },
      'mixed-floor': { url: `${mixed.library}/floor`, ...token },
      'mixed-authenticated': { url: `${mixed.library}/authenticated`, ...token },
      'mixed-cached': { url: `${mixed.cached}/authenticated`, ...token },
    }),
  };
  return SCENARIOS.filter((name) => apps.some((app) => SCENARIOS_OF[app].includes(name))).map((name) => {
    const target = targets[name];
    if (!target) throw new Error(`scenario ${name}: its app was not started`);
    return { name, description: DESCRIPTIONS[name], target };
  });
}
