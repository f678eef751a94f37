import type { DiscoveryService } from '@nestjs/core';
import { SessionsOptionsError } from '../errors';
import type { ResolvedSessionsOptions } from '../options/options.interface';
import { getSessionsOptionsToken } from './injection-tokens';

/**
 * Fails when two `forRoot`/`forRootAsync` calls of one app register the same
 * kind, or two kinds the same entity name: Nest would let the last module's
 * exports win (its table, its ttl) and the entity storage keeps only the last
 * entity of a name, silently. Checked per app, from the modules Nest built: the
 * apps of one process (tests, workers) may each register the same kinds.
 */
export function assertKindsRegisteredOnce(discovery: DiscoveryService): void {
  const kinds = new Map<string, number>();
  const entities = new Map<string, string>();
  for (const wrapper of discovery.getProviders()) {
    const options = wrapper.instance as ResolvedSessionsOptions | null | undefined;
    if (typeof options?.name !== 'string' || wrapper.token !== getSessionsOptionsToken(options.name)) continue;
    const { name, entityName } = options;
    kinds.set(name, (kinds.get(name) ?? 0) + 1);
    const other = entities.get(entityName);
    if (other !== undefined && other !== name) {
      throw new SessionsOptionsError(
        name,
        'entityName',
        `"${entityName}" is also kind "${other}"'s: give each its own`,
      );
    }
    entities.set(entityName, name);
  }
  for (const [name, count] of kinds) {
    if (count < 2) continue;
    throw new SessionsOptionsError(
      name,
      'name',
      `is registered by ${count} EctoSessionsModule.forRoot/forRootAsync calls in this app; the last would replace ` +
        `the others (table, ttl…): give each kind its own name, or register it once`,
    );
  }
}
