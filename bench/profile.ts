import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { basename, dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIR } from './paths';

/** A V8 CPU profile, as `Profiler.stop` returns it and Chrome DevTools opens it. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    children?: number[];
    callFrame: { functionName: string; url: string; lineNumber: number };
  }>;
  startTime?: number;
  endTime?: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  /** Milliseconds: self time, or inclusive time in `guardPath`. */
  ms: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  seconds: number;
  /** Requests answered while sampling, to turn time into time per request. */
  requests: number;
  /** CPU time (user + system) of the apps' process per request while sampling, in µs: the shares' whole. */
  cpuPerRequest: number;
  /** Milliseconds the thread was busy (not idle). */
  busyMs: number;
  /** Share of samples where the app's thread waited (on the database, the network). */
  idleShare: number;
  /** Self time of each package's code (a native frame counts for its JavaScript caller). */
  byPackage: ProfileEntry[];
  /** The same, with the Node core and native work a package started (its socket writes, say) charged to it. */
  byCaller: ProfileEntry[];
  topFunctions: ProfileEntry[];
  /** Self time of the library's own functions (a native frame counts for its library caller). */
  libraryFunctions: ProfileEntry[];
  /** Inclusive time of the functions of the library and the database stack under it (the guard path). */
  guardPath: ProfileEntry[];
}

/** What `packageOf` calls the library's own code. */
const LIBRARY = 'nestjs-ecto-sessions';

/** Packages on the way from the guard to the socket. */
const GUARD_PATH = /^(nestjs-ecto-sessions|@mikro-orm\/.*|knex|tarn|pg|pg-protocol)$/;

/** The library's sources (ts-jest) and its copy compiled with the bench (npm run bench), whatever their subfolders. */
const LIBRARY_DIRS = [join(dirname(BENCH_DIR), 'lib') + sep, join(BENCH_DIR, 'dist', 'lib') + sep];

/**
 * Profiles this process (the apps) while `load` runs, through the inspector
 * module: only the stretch of load is sampled, not the boot and the seeding
 * that `node --cpu-prof` would mix in. The profile opens in Chrome DevTools.
 */
export async function profileWhile(
  load: () => Promise<{ requests: number; cpuPerRequest: number }>,
  file: string,
  seconds: number,
): Promise<ProfileSummary> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<any> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  try {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 200 }); // µs: fine enough for a sub-millisecond request
    await post('Profiler.start');
    const { requests, cpuPerRequest } = await load();
    const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
    writeFileSync(file, JSON.stringify(profile));
    return { file: basename(file), seconds, requests, cpuPerRequest, ...summarize(profile) };
  } finally {
    session.disconnect();
  }
}

/**
 * Self time by package and by function, idle time set apart. Time is counted
 * in samples, not in `timeDeltas`: on a busy 2-core machine the sampler itself
 * is sometimes late, and a late sample would charge its whole gap to one frame.
 * A native frame (a syscall such as `writev`) is charged to the package whose
 * JavaScript called it.
 */
export function summarize(
  profile: CpuProfile,
  top = 15,
): Omit<ProfileSummary, 'file' | 'seconds' | 'requests' | 'cpuPerRequest'> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const samples = new Map<number, number>();
  for (const id of profile.samples) samples.set(id, (samples.get(id) ?? 0) + 1);
  const totalMs =
    profile.endTime !== undefined && profile.startTime !== undefined ? (profile.endTime - profile.startTime) / 1000 : 0;
  const msPerSample = profile.samples.length ? totalMs / profile.samples.length : 0;
  let idle = 0;
  let busy = 0;
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  const library = new Map<string, number>();
  const charged = new Map<string, number>();
  /** The frame itself or its nearest caller that passes the test (or the root-most frame). */
  const nearest = (id: number, test: (frame: CpuProfile['nodes'][number]['callFrame']) => boolean): number => {
    let at = id;
    while (!test(byId.get(at)!.callFrame) && parentOf.has(at)) at = parentOf.get(at)!;
    return at;
  };
  const add = (map: Map<string, number>, key: string, n: number) => map.set(key, (map.get(key) ?? 0) + n);
  for (const [id, n] of samples) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += n;
      continue;
    }
    busy += n;
    const callerFrame = byId.get(nearest(id, (f) => !!f.url))!.callFrame;
    const where = packageOf(callerFrame.url, frame.functionName);
    add(packages, where, n);
    const starter = byId.get(nearest(id, (f) => !!f.url && !f.url.startsWith('node:')))!.callFrame;
    add(charged, starter.url ? packageOf(starter.url, '') : where, n);
    const location = frame.url
      ? `${where}/${basename(frame.url)}:${frame.lineNumber + 1}`
      : callerFrame.url
        ? `native, from ${where}`
        : '';
    const name = `${frame.functionName || '(anonymous)'}${location ? ` (${location})` : ''}`;
    add(functions, name, n);
    if (where === LIBRARY) add(library, name, n);
  }
  const ranked = (entries: Map<string, number>, limit: number): ProfileEntry[] =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, n]) => ({ name, ms: n * msPerSample, share: busy ? n / busy : 0 }));
  // Inclusive time: a sample counts once for every function on its stack.
  const inclusive = new Map<string, number>();
  for (const [id, n] of samples) {
    if (byId.get(id)!.callFrame.functionName === '(idle)') continue;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const frame = byId.get(at)!.callFrame;
      const where = frame.url ? packageOf(frame.url, '') : '';
      if (GUARD_PATH.test(where))
        seen.add(`${frame.functionName || '(anonymous)'} (${where}/${basename(frame.url)}:${frame.lineNumber + 1})`);
    }
    for (const key of seen) add(inclusive, key, n);
  }
  return {
    idleShare: idle / Math.max(1, idle + busy),
    busyMs: busy * msPerSample,
    guardPath: ranked(inclusive, 20),
    byPackage: ranked(packages, 50),
    byCaller: ranked(charged, 50),
    topFunctions: ranked(functions, top),
    libraryFunctions: ranked(library, top),
  };
}

/** Where a frame's code comes from: an npm package, this library, the bench, Node itself, or V8. */
function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? `V8 ${functionName}` : 'V8 / native';
  if (url.startsWith('node:')) return 'node (core)';
  // The innermost node_modules names the package (a nested copy counts as its own package).
  const modules = [...url.matchAll(/node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/g)];
  if (modules.length) return modules[modules.length - 1][1].replace(/\\/g, '/');
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (LIBRARY_DIRS.some((dir) => path.startsWith(dir))) return LIBRARY;
  if (/[\\/]bench[\\/]/.test(url)) return 'bench';
  return 'other';
}

export function profileFile(outDir: string, name: string): string {
  return join(outDir, `${name}.cpuprofile`);
}
