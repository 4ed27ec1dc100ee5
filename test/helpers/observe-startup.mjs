// Loaded with --import by tests: when the process exits, writes to $OBSERVE_FILE how many Node processes it
// forked, how many programs it started in all (every ChildProcess spawn), whether the SSH library was loaded,
// and its peak memory (maxRSS, KiB).
import cp from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

let forks = 0;
let started = 0;
const fork = cp.fork;
cp.fork = (...args) => {
  forks++;
  return fork(...args);
};
const spawn = cp.ChildProcess.prototype.spawn;
cp.ChildProcess.prototype.spawn = function (...args) {
  started++;
  return spawn.apply(this, args);
};
syncBuiltinESMExports();
process.on('exit', () => {
  const loaded = Object.keys(createRequire(import.meta.url).cache);
  writeFileSync(process.env.OBSERVE_FILE, JSON.stringify({ forks, started, ssh2: loaded.some((file) => file.includes('/node_modules/ssh2/')), maxRssKiB: process.resourceUsage().maxRSS }));
});
