import { connect, createServer } from 'node:net';
import type { LoggerService } from '@nestjs/common';

/** What a test needs of a response. */
export interface HttpResult {
  status: number;
  headers: Headers;
  /** Every `Set-Cookie` header, unmerged. */
  setCookies: string[];
  text: string;
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: any;
}

/** Every response body the helpers saw, so a spec can check that no secret ever leaked into one. */
export const seenBodies: string[] = [];

/** A request through Node's global fetch. Headers as pairs, so one name may repeat. */
export async function call(
  url: string,
  init: { method?: string; headers?: Array<[string, string]> | Record<string, string> } = {},
): Promise<HttpResult> {
  const headers = new Headers();
  for (const [name, value] of Array.isArray(init.headers) ? init.headers : Object.entries(init.headers ?? {})) {
    headers.append(name, value);
  }
  const response = await fetch(url, { method: init.method ?? 'GET', headers, redirect: 'manual' });
  const text = await response.text();
  seenBodies.push(text);
  const setCookies = response.headers.getSetCookie();
  return { status: response.status, headers: response.headers, setCookies, text, json: parse(text) };
}

/**
 * A request written byte by byte on a socket, for what fetch refuses to send
 * (bytes outside Latin-1 in a header). `headerLines` are raw header lines
 * without CRLF.
 */
export async function rawRequest(
  url: string,
  headerLines: Array<string | Buffer>,
): Promise<{ status: number; headers: Record<string, string>; text: string; json: any }> {
  const { hostname, port, pathname, search } = new URL(url);
  const head = Buffer.concat([
    Buffer.from(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n`, 'latin1'),
    ...headerLines.flatMap((line) => [Buffer.isBuffer(line) ? line : Buffer.from(line, 'latin1'), Buffer.from('\r\n')]),
    Buffer.from('\r\n'),
  ]);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.end(head));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
  const text = raw.toString('latin1');
  const [headText, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = headText.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = rest.join('\r\n\r\n');
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = unchunk(body);
  seenBodies.push(body);
  return { status: Number(statusLine.split(' ')[1]), headers, text: body, json: parse(body) };
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const end = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, end), 16);
    if (!size) return out;
    out += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
}

function parse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A Nest logger that keeps every line, to check what the library logs. */
export class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(...args: unknown[]): void {
    this.keep('log', args);
  }
  error(...args: unknown[]): void {
    this.keep('error', args);
  }
  warn(...args: unknown[]): void {
    this.keep('warn', args);
  }
  debug(...args: unknown[]): void {
    this.keep('debug', args);
  }
  verbose(...args: unknown[]): void {
    this.keep('verbose', args);
  }
  fatal(...args: unknown[]): void {
    this.keep('fatal', args);
  }
  private keep(level: string, args: unknown[]): void {
    const text = args.map((arg) =>
      arg instanceof Error
        ? `${arg.name}: ${arg.message}\n${arg.stack}`
        : typeof arg === 'string'
          ? arg
          : JSON.stringify(arg),
    );
    this.lines.push(`${level} ${text.join(' ')}`);
  }
}

/** A TCP port nothing listens on right now, for a server started later on a fixed port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
