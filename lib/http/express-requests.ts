import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { reserveRecord } from './request-sessions';

/** The part of Node's HTTP server used here. */
interface RequestEmitter {
  prependListener(event: 'request', listener: (request: object) => void): unknown;
  listeners(event: 'request'): unknown[];
}

/**
 * On the Express adapter, gives every request the properties the guard
 * writes before Express sees it (`reserveRecord`: the figure is there). A
 * listener put ahead of Express's own on the app's HTTP server; without that
 * server (an application context, a serverless handler calling Express
 * directly), the guard adds them itself, as it would on Fastify.
 */
@Injectable()
export class ExpressRequests implements OnApplicationBootstrap {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onApplicationBootstrap(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (adapter?.getType() !== 'express') return;
    const server = adapter.getHttpServer() as Partial<RequestEmitter> | undefined;
    if (typeof server?.prependListener !== 'function' || typeof server.listeners !== 'function') return;
    // Once per server: a hybrid app with deferred microservices runs the bootstrap hooks again.
    if (!server.listeners('request').includes(reserveRecord)) server.prependListener('request', reserveRecord);
  }
}
