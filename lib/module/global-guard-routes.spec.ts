import { Reflector } from '@nestjs/core';
import { AuthenticatedGuard } from '../http/authenticated.guard';
import { routeOptions } from './global-guard-routes';

class Controller {
  handler() {}
}

describe('routeOptions', () => {
  it("asks the guard's own getOptions", () => {
    const guard = new AuthenticatedGuard(new Reflector(), {} as never);
    expect(routeOptions(guard, Controller, Controller.prototype.handler)).toEqual({});
  });

  it('a getOptions that reads more of the context than start-up has does not fail start-up: the request decides', () => {
    class ByRequest extends AuthenticatedGuard {
      protected override getOptions(context: Parameters<AuthenticatedGuard['canActivate']>[0]) {
        return context.switchToHttp().getRequest<{ open?: boolean }>().open ? null : {};
      }
    }
    const guard = new ByRequest(new Reflector(), {} as never);
    expect(routeOptions(guard, Controller, Controller.prototype.handler)).toBeNull();
  });
});
