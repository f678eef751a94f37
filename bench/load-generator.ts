import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { BENCH_DIR } from './paths';

/** What one stretch of load measured. Latencies in milliseconds, of 2xx responses only. */
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadRequest {
  url: string;
  connections: number;
  /** Seconds; autocannon stops on the first whole second past it. */
  duration: number;
  /** The header each request carries, and the values it cycles through. */
  header: string;
  values: string[];
}

/**
 * autocannon in a child process. In the app's process it would share the one
 * event loop it measures: every request would cost the app the client's work
 * too (building requests, parsing responses, timing), and the figures would
 * be of both. In its own process it has its own loop and, on this 2-core
 * machine, the OS can give it the other core (shared with PostgreSQL).
 */
export class LoadGenerator {
  private child: ChildProcess | undefined;
  private pending = new Map<number, { resolve(r: LoadResult): void; reject(e: Error): void }>();
  private nextId = 0;

  async start(): Promise<void> {
    // execArgv: [] so flags of the parent (--cpu-prof, --expose-gc, jest's) do not apply to the generator.
    const child = fork(join(BENCH_DIR, 'load-generator-process.js'), [], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    child.on('message', (message: { type: string; id: number; result?: LoadResult; error?: string }) => {
      if (message.type !== 'result') return;
      const waiting = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) waiting?.reject(new Error(message.error));
      else waiting?.resolve(message.result!);
    });
    child.on('exit', (code) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`load generator exited with ${code}`));
      this.pending.clear();
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('error', reject);
    });
  }

  /** Loads `url` for `duration` seconds (or until `stop()`). */
  run(request: LoadRequest): Promise<LoadResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child!.send({ type: 'run', id, ...request });
    });
  }

  /** Ends the running load early; its `run` resolves with what was measured so far. */
  stop(): void {
    this.child?.send({ type: 'stop' });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill();
    await exited;
  }
}
