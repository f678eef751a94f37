import { runBench } from './bench';
import { runReplica } from './replica';
import { runRevocation } from './revocation';
import { runScale } from './scale';
import { settingsFrom } from './settings';

/** `npm run bench [-- --scale | --revocation | --replica] [-- --rounds 3 --duration 5 ...]`; see bench/README.md. */
async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2), process.env);
  if (settings.revocation) await runRevocation(settings);
  else if (settings.replica) await runReplica(settings);
  else if (settings.scale) await runScale(settings);
  else await runBench(settings);
}

main().then(
  () => process.exit(0), // idle sockets of a closed pool must not keep the run alive
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
