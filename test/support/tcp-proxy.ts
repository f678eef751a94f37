import { connect, createServer, type Socket } from 'node:net';

/** A TCP proxy in front of a database, that can stop answering like a hung server or a black-holed network. */
export interface TcpProxy {
  /** The target URL with the proxy's host and port. */
  url: string;
  /** Stops forwarding: new connections are accepted and never answered; open ones go silent. */
  hang(): void;
  /**
   * Forwards again. Connections left silent are reset, as a network does once a
   * partition ends, and the promise waits for the resets to reach the client.
   */
  resume(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on a free local port in front of the host and port of `targetUrl`. */
export async function startTcpProxy(targetUrl: string): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  let hung = false;
  const pairs = new Set<{ client: Socket; upstream?: Socket }>();
  const server = createServer((client) => {
    const pair: { client: Socket; upstream?: Socket } = { client };
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
    client.on('error', () => undefined);
    if (hung) return; // accepted, never answered
    const upstream = connect(Number(target.port || 5432), target.hostname);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    upstream.on('data', (chunk) => hung || client.write(chunk));
    client.on('data', (chunk) => hung || upstream.write(chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  const resume = async () => {
    hung = false;
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream?.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  };
  return {
    url: url.toString(),
    hang() {
      hung = true;
    },
    resume,
    async close() {
      await resume();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
