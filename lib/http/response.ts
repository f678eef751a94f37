/** An Express response, a Fastify reply, or a bare Node `ServerResponse` (such as `reply.raw`). */
export type ResponseLike =
  | { append(name: string, value: string): unknown }
  | { header(name: string, value: string): unknown }
  | { appendHeader(name: string, value: string): unknown };

type Setter = (name: string, value: string) => unknown;
type AnyResponse = Partial<Record<'append' | 'header' | 'appendHeader' | 'setHeader', Setter>>;

/**
 * Adds a header value without dropping earlier ones (`Set-Cookie`). Express has
 * `append` (its `header` would replace); Fastify has no `append`, but its
 * `reply.header('set-cookie', …)` accumulates by itself; Node's own response has
 * `appendHeader`. `false` when the response has none of them.
 */
export function appendHeader(response: unknown, name: string, value: string): boolean {
  const r = (response ?? {}) as AnyResponse;
  if (typeof r.append === 'function') r.append(name, value);
  else if (typeof r.header === 'function') r.header(name.toLowerCase(), value);
  else if (typeof r.appendHeader === 'function') r.appendHeader(name, value);
  else return false;
  return true;
}

/** Whether `appendHeader` can add a header to this response. */
export function canAppendHeader(response: unknown): boolean {
  const r = (response ?? {}) as AnyResponse;
  return typeof r.append === 'function' || typeof r.header === 'function' || typeof r.appendHeader === 'function';
}

/** Sets a header, replacing it: Express and Node have `setHeader`, a Fastify reply `header`. */
export function setHeader(response: unknown, name: string, value: string): void {
  const r = (response ?? {}) as AnyResponse;
  if (typeof r.setHeader === 'function') r.setHeader(name, value);
  else if (typeof r.header === 'function') r.header(name, value);
}
