import type { Request } from 'express';

/** What a session keeps in its `data` to tell devices apart on the account page. */
export interface ClientInfo {
  userAgent: string;
  ip: string;
}

export function clientInfo(req: Request): ClientInfo {
  return {
    userAgent: (req.get('user-agent') ?? 'unknown').slice(0, 300),
    // IPv4 clients of a dual-stack socket show up as ::ffff:a.b.c.d.
    ip: (req.ip ?? req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
  };
}
