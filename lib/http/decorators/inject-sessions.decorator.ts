import { Inject } from '@nestjs/common';
import { getSessionsToken } from '../../module/injection-tokens';

/**
 * Injects the `SessionsService` of a named kind.
 *
 * @example
 * constructor(@InjectSessions('apiKeys') private readonly apiKeys: SessionsService) {}
 */
export const InjectSessions = (name?: string): ParameterDecorator & PropertyDecorator => Inject(getSessionsToken(name));
