import { runBench } from './bench';
import { runScale } from './scale';
import { settingsFrom } from './settings';

/** `npm run bench [-- --scale] [-- --rounds 3 --duration 5 ...]`; see bench/README.md. */
async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2), process.env);
  if (settings.scale) await runScale(settings);
  else await runBench(settings);
}

main().then(
  () => process.exit(0), // idle sockets of a closed pool must not keep the run alive
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
