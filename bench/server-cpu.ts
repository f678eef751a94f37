import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux Node runs on). */
const TICKS_PER_SECOND = 100;

/**
 * A reader of the CPU time (user + system, µs) the local PostgreSQL server's
 * processes have used, or `undefined` when the server is not one of this
 * machine's processes (another host, embedded PGlite, no /proc). The apps load
 * one scenario at a time, so the difference over a stretch of load, divided by
 * its requests, is what the server spent on a request of that scenario: the
 * other half of what competes for the machine's cores with the apps' process.
 * Every `postgres` process counts (a replica or another run's tests too), and
 * ticks are 10 ms: a median over rounds, not one reading, says something.
 */
export function serverCpuReader(url: string, embedded: boolean): (() => number) | undefined {
  if (embedded) return undefined;
  const host = new URL(url).hostname;
  if (!['127.0.0.1', 'localhost', '[::1]', ''].includes(host)) return undefined;
  try {
    if (postgresPids().length === 0) return undefined;
  } catch {
    return undefined;
  }
  return () => {
    let ticks = 0;
    for (const pid of postgresPids()) {
      try {
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // a backend that exited meanwhile
      }
    }
    return (ticks * 1e6) / TICKS_PER_SECOND;
  };
}

function postgresPids(): string[] {
  return readdirSync('/proc').filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres';
    } catch {
      return false;
    }
  });
}
