import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** An embedded PostgreSQL running in a child process. */
export interface EmbeddedPostgresProcess {
  url: string;
  port: number;
  /** Stops the database (SIGTERM, clean shutdown) and waits for the process to end. */
  stop(): Promise<void>;
}

/**
 * Starts `embedded-postgres-process.js`: PGlite on `dataDir` (kept across
 * restarts) behind a socket on `port` (0 = any free one).
 */
export function spawnEmbeddedPostgres(options: { dataDir: string; port?: number }): Promise<EmbeddedPostgresProcess> {
  const script = join(__dirname, 'embedded-postgres-process.js');
  const child = spawn(process.execPath, [script, options.dataDir, String(options.port ?? 0)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    // PGlite's first start (initdb in WebAssembly) is CPU-bound: on a busy 2-core machine it has taken over 30 s.
    const timer = setTimeout(() => fail(new Error('embedded PostgreSQL did not start within 90 s')), 90_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stderr.on('data', (chunk) => (err += chunk));
    const early = (code: number | null) => fail(new Error(`embedded PostgreSQL exited with ${code}: ${err}`));
    child.once('exit', early);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /^ready (\S+)$/m.exec(out);
      if (!match) return;
      clearTimeout(timer);
      child.removeListener('exit', early);
      child.stdout.removeAllListeners('data');
      const url = match[1];
      resolve({
        url,
        port: Number(new URL(url).port),
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}
