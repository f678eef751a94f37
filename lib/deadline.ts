/**
 * `promise`, or a rejection with `timedOut()` once `ms` pass. The work itself
 * finishes or fails in the background (a statement's connection goes back to
 * its pool); once abandoned, its failure is nobody's to handle.
 */
export function withinMs<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A failure's driver code (`ECONNREFUSED`, `57P01`…), when it has a loggable one:
 * messages may quote SQL, its parameters (a digest), hosts and users, codes never.
 */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[A-Za-z0-9_]{1,32}$/.test(code) ? code : undefined;
}
