import { basename, dirname, join } from 'node:path';

/**
 * The sample's source folder, whether it runs from `sample/` (ts-jest) or from
 * `dist-sample/sample/` (`npm start`): templates, CSS and the data folder are
 * read from the source tree, so the build does not have to copy them.
 */
export const SAMPLE_DIR =
  basename(dirname(__dirname)) === 'dist-sample' ? join(__dirname, '..', '..', 'sample') : __dirname;
