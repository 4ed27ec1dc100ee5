// Loaded with --import by tests: when the process exits, writes to $OBSERVE_FILE how many processes it
// forked (spawner processes) and whether the SSH library was loaded.
import cp from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

let forks = 0;
const fork = cp.fork;
cp.fork = (...args) => {
  forks++;
  return fork(...args);
};
syncBuiltinESMExports();
process.on('exit', () => {
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  writeFileSync(process.env.OBSERVE_FILE, JSON.stringify({ forks, ssh2: loaded.some((file) => file.includes('/node_modules/ssh2/')) }));
});
