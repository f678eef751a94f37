import { readdirSync, readFileSync } from 'node:fs';

/** Linux's clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux Node runs on). */
const TICKS_PER_SECOND = 100;

/** The CPU time (µs) each local `postgres` process has used so far, by PID and start time. */
export type ServerCpuSnapshot = Map<string, number>;

/**
 * A reader of the CPU time (user + system) the local PostgreSQL server's
 * processes have used, or `undefined` when the server is not one of this
 * machine's processes (another host, embedded PGlite, no /proc). The apps load
 * one scenario at a time, so what the server used over a stretch of load,
 * divided by its requests, is what it spent on a request of that scenario: the
 * other half of what competes for the machine's cores with the apps' process.
 * Every `postgres` process counts (a replica or another run's tests too), and
 * ticks are 10 ms: a median over rounds, not one reading, says something.
 */
export function serverCpuReader(url: string, embedded: boolean): (() => ServerCpuSnapshot) | undefined {
  if (embedded || !onThisMachine(url)) return undefined;
  try {
    if (postgresPids().length === 0) return undefined;
  } catch {
    return undefined;
  }
  return () => {
    const snapshot: ServerCpuSnapshot = new Map();
    for (const pid of postgresPids()) {
      try {
        // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th,
        // starttime the 20th; with it, a PID the kernel reused is another process.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        snapshot.set(`${pid}/${fields[19]}`, ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND);
      } catch {
        // a backend that exited meanwhile
      }
    }
    return snapshot;
  };
}

/**
 * What the server used between two snapshots, per process: a process that
 * exited meanwhile (an autovacuum worker) takes its time with it, so a plain
 * difference of totals could go below zero; one that started counts whole.
 */
export function serverCpuUsed(before: ServerCpuSnapshot, after: ServerCpuSnapshot): number {
  let used = 0;
  for (const [pid, time] of after) used += time - (before.get(pid) ?? 0);
  return used;
}

/** Whether a connection URL names this machine: a loopback host, or a Unix socket (no host, or a path). */
function onThisMachine(url: string): boolean {
  try {
    const host = decodeURIComponent(new URL(url).hostname).toLowerCase();
    return host === '' || host.startsWith('/') || host === 'localhost' || host.startsWith('127.') || host === '[::1]';
  } catch {
    return false; // a URL only pg's own parser reads (a socket path in `?host=`): not measured, never a crash
  }
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
