import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuthenticatedGuard } from '../http/authenticated.guard';
import { ExpressRequests } from '../http/express-requests';
import { AuthenticatedKindsCheck } from './kinds-check';

/**
 * What every kind shares, registered once however many `forRoot` calls there
 * are (as `MikroOrmCoreModule` and `ClsCommonModule` do): the guard, and the
 * start-up check that every `@Authenticated({ name })` names a registered kind,
 * and the listener that gives Express requests the guard's properties ahead of Express.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [AuthenticatedGuard, AuthenticatedKindsCheck, ExpressRequests],
  exports: [AuthenticatedGuard],
})
export class EctoSessionsCoreModule {}
