// What a replay from the up-to-date cache runs, in one module: loaded as it is through tsx, or compiled
// into one file by replay-bundle.ts. The plain reporter is what console-reporter.ts loads for a pipe or CI
// (the common case of a replay): imported here, it loads with the rest instead of after them.
import '../reporter/plain-reporter.js';

export { tolerateClosedOutput } from './closed-output.js';
export { replayUpToDateRun } from './replay-run.js';
