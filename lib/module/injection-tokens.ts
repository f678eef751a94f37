import type { InjectionToken } from '@nestjs/common';
import { DEFAULT_KIND } from '../constants';
import { SessionsService } from '../service/sessions.service';

/** Injection token of a kind's `SessionsService`: the class itself for the default kind. */
export function getSessionsToken(name: string = DEFAULT_KIND): InjectionToken {
  return name === DEFAULT_KIND ? SessionsService : `EctoSessions:${name}:service`;
}

/** Injection token of a kind's resolved options. */
export function getSessionsOptionsToken(name: string = DEFAULT_KIND): string {
  return `EctoSessions:${name}:options`;
}
