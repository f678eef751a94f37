import { createTestApp, type TestApp, type TestAppOptions } from './app';

/** Options of an HTTP test app: those of `createTestApp`, always listening. */
export type HttpTestAppOptions = Omit<TestAppOptions, 'listen'>;

/** `createTestApp`, listening on a free port of 127.0.0.1. */
export function createHttpTestApp(options: HttpTestAppOptions = {}): Promise<TestApp> {
  return createTestApp({ ...options, listen: true });
}
