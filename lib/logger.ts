import { Logger } from '@nestjs/common';

/** The library's one logger: everything it logs goes under the `EctoSessions` context. */
export const logger = new Logger('EctoSessions');
