/** An Express response, a Fastify reply, or a bare Node `ServerResponse` (such as `reply.raw`). */
export type ResponseLike =
  | { append(name: string, value: string): unknown }
  | { header(name: string, value: string): unknown }
  | { appendHeader(name: string, value: string): unknown };

type Setter = (name: string, value: string) => unknown;
type AnyResponse = Partial<Record<'append' | 'header' | 'appendHeader' | 'setHeader', Setter>>;

/**
 * How to add a header value without dropping earlier ones (`Set-Cookie`), or
 * `undefined` when the response has no way. Express has `append` (its `header`
 * would replace); Fastify has no `append`, but its `reply.header('set-cookie', …)`
 * accumulates by itself; Node's own response has `appendHeader`.
 */
function appenderOf(response: unknown): Setter | undefined {
  const r = (response ?? {}) as AnyResponse;
  if (typeof r.append === 'function') return (name, value) => r.append!(name, value);
  if (typeof r.header === 'function') return (name, value) => r.header!(name.toLowerCase(), value);
  if (typeof r.appendHeader === 'function') return (name, value) => r.appendHeader!(name, value);
  return undefined;
}

/** Adds a header value without dropping earlier ones; `false` when the response cannot. */
export function appendHeader(response: unknown, name: string, value: string): boolean {
  const append = appenderOf(response);
  append?.(name, value);
  return append !== undefined;
}

/** Whether `appendHeader` can add a header to this response. */
export function canAppendHeader(response: unknown): boolean {
  return appenderOf(response) !== undefined;
}

/** Sets a header, replacing it: Express and Node have `setHeader`, a Fastify reply `header`. */
export function setHeader(response: unknown, name: string, value: string): void {
  const r = (response ?? {}) as AnyResponse;
  if (typeof r.setHeader === 'function') r.setHeader(name, value);
  else if (typeof r.header === 'function') r.header(name, value);
}
