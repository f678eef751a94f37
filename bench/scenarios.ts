import type { LoadRequest } from './load-generator';

export const SCENARIOS = ['public', 'floor', 'authenticated', 'cached', 'express-session'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** One route under load; every scenario sends a rotating header, so the client's work is the same for all. */
export interface Scenario {
  name: ScenarioName;
  /** What the route does, for the table. */
  description: string;
  target: Pick<LoadRequest, 'url' | 'header' | 'values'>;
}

export const DESCRIPTIONS: Record<ScenarioName, string> = {
  public: 'Nest route, no guard, no database',
  floor: 'hand-written lookup by digest on a plain pg.Pool',
  authenticated: '@Authenticated() route (nestjs-ecto-sessions)',
  cached: "@Authenticated() route, cache: { ttl: '10m', max: 200_000 }",
  'express-session': 'express-session + connect-pg-simple (defaults)',
};

/** The five scenarios of the main run, on the three apps. */
export function mainScenarios(
  urls: { library: string; cached: string; expressSession: string },
  tokens: string[],
  cookies: string[],
): Scenario[] {
  const token = { header: 'x-auth-token', values: tokens };
  const targets: Record<ScenarioName, Scenario['target']> = {
    public: { url: `${urls.library}/public`, ...token },
    floor: { url: `${urls.library}/floor`, ...token },
    authenticated: { url: `${urls.library}/authenticated`, ...token },
    cached: { url: `${urls.cached}/authenticated`, ...token },
    'express-session': { url: `${urls.expressSession}/express-session`, header: 'cookie', values: cookies },
  };
  return SCENARIOS.map((name) => ({ name, description: DESCRIPTIONS[name], target: targets[name] }));
}
