import { join } from 'node:path';

/**
 * The bench's source folder, whether this runs from source (ts-jest) or
 * compiled into bench/dist/bench (npm run bench): results and the plain-JS
 * load generator live there, not in dist.
 */
export const BENCH_DIR = __dirname.replace(/[\\/]dist[\\/]bench$/, '');

export const RESULTS_DIR = join(BENCH_DIR, 'results');
