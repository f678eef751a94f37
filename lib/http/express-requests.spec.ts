import { EventEmitter } from 'node:events';
import type { HttpAdapterHost } from '@nestjs/core';
import { ExpressRequests } from './express-requests';

function hostOf(type: string, server: unknown): HttpAdapterHost {
  return { httpAdapter: { getType: () => type, getHttpServer: () => server } } as unknown as HttpAdapterHost;
}

describe('ExpressRequests', () => {
  it("gives each Express request the guard's properties, ahead of Express's own listener", () => {
    const server = new EventEmitter();
    const seen: boolean[] = [];
    server.on('request', (request: object) => seen.push(Object.hasOwn(request, 'authSession')));
    new ExpressRequests(hostOf('express', server)).onApplicationBootstrap();
    server.emit('request', {});
    expect(seen).toEqual([true]);
  });

  it('adds its listener once per server, however often the bootstrap hooks run (hybrid apps run them again)', () => {
    const server = new EventEmitter();
    const requests = new ExpressRequests(hostOf('express', server));
    requests.onApplicationBootstrap();
    requests.onApplicationBootstrap();
    new ExpressRequests(hostOf('express', server)).onApplicationBootstrap();
    expect(server.listenerCount('request')).toBe(1);
  });

  it('leaves Fastify, and contexts without an HTTP server, alone', () => {
    const server = new EventEmitter();
    new ExpressRequests(hostOf('fastify', server)).onApplicationBootstrap();
    expect(server.listenerCount('request')).toBe(0);
    expect(() => new ExpressRequests(hostOf('express', null)).onApplicationBootstrap()).not.toThrow();
    expect(() => new ExpressRequests({} as HttpAdapterHost).onApplicationBootstrap()).not.toThrow();
  });
});
