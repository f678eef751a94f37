import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { appendSetCookie, clearedSessionCookie, sessionCookie } from './cookies';
import type { EctoSessionsOptions } from '../options/options.interface';
import { resolveSessionsOptions } from '../options/resolve-options';

const cookieOf = (options: EctoSessionsOptions = {}) => resolveSessionsOptions(options).cookie;

describe('sessionCookie', () => {
  it('defaults to HttpOnly, Secure, SameSite=Lax, Path=/ and Max-Age = ttl', () => {
    expect(sessionCookie(cookieOf(), 'tok')).toBe(
      'auth_token=tok; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax',
    );
    expect(sessionCookie(cookieOf({ ttl: '2h' }), 'tok')).toContain('Max-Age=7200;');
  });

  it('lasts 400 days, the browsers’ cap, when sessions never expire', () => {
    expect(sessionCookie(cookieOf({ ttl: null }), 'tok')).toContain(`Max-Age=${400 * 86_400};`);
    expect(sessionCookie(cookieOf({ ttl: '1000d' }), 'tok')).toContain(`Max-Age=${400 * 86_400};`);
  });

  it('follows the options: no Secure for local http, domain, path, SameSite, name', () => {
    const cookie = cookieOf({
      cookie: {
        name: 'sid',
        secure: false,
        httpOnly: false,
        sameSite: 'strict',
        domain: 'example.test',
        path: '/app',
        maxAge: 60,
      },
    });
    expect(sessionCookie(cookie, 'tok')).toBe('sid=tok; Max-Age=60; Domain=example.test; Path=/app; SameSite=Strict');
  });

  it('supports the __Host- prefix (Secure, Path=/, no Domain)', () => {
    expect(sessionCookie(cookieOf({ cookie: { name: '__Host-auth_token' } }), 'tok')).toBe(
      '__Host-auth_token=tok; Max-Age=604800; Path=/; HttpOnly; Secure; SameSite=Lax',
    );
  });
});

describe('clearedSessionCookie', () => {
  it('has the same name, path and domain, an empty value, Max-Age=0 and an Expires in the past', () => {
    expect(clearedSessionCookie(cookieOf())).toBe(
      'auth_token=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax',
    );
    expect(clearedSessionCookie(cookieOf({ cookie: { domain: 'example.test', path: '/app' } }))).toContain(
      'Max-Age=0; Domain=example.test; Path=/app;',
    );
  });
});

describe('appendSetCookie', () => {
  it('uses append on an Express response, never header (which would replace the others)', () => {
    const res = { append: jest.fn(), header: jest.fn() };
    appendSetCookie(res, 'a=1');
    expect(res.append).toHaveBeenCalledWith('Set-Cookie', 'a=1');
    expect(res.header).not.toHaveBeenCalled();
  });

  it('uses header on a Fastify reply (which accumulates set-cookie)', () => {
    const reply = { header: jest.fn() };
    appendSetCookie(reply, 'a=1');
    expect(reply.header).toHaveBeenCalledWith('set-cookie', 'a=1');
  });

  it('appends on a bare Node response, keeping a cookie set before', () => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    res.setHeader('Set-Cookie', 'theme=dark');
    appendSetCookie(res, 'a=1');
    appendSetCookie(res, 'b=2');
    expect(res.getHeader('set-cookie')).toEqual(['theme=dark', 'a=1', 'b=2']);
  });

  it('refuses anything else with a clear error', () => {
    expect(() => appendSetCookie({} as never, 'a=1')).toThrow(
      /Express response, a Fastify reply or a Node ServerResponse/,
    );
    expect(() => appendSetCookie(undefined as never, 'a=1')).toThrow(TypeError);
  });
});
