import type { SessionsService } from '../../lib';

/** The digests a token may be stored under in a kind (one per accepted secret): the service keeps this to itself. */
export function digestsOf(service: SessionsService, token: string): string[] {
  return (service as unknown as { parts: { digests: { of(token: string): string[] } } }).parts.digests.of(token);
}
