import readline from 'node:readline/promises';
import { ExitCode } from '../../failures.js';
import { withRunLock } from '../run-lock-scope.js';
import { report, type Invocation, type Session } from '../session.js';

/** `--reset <task>`: forgets these tasks' stamps, under the run lock. */
export function resetTasks(invocation: Invocation, session: Session): Promise<number> {
  return withRunLock(invocation, session, async () => {
    for (const id of session.reset) session.store.reset(id);
    const forgotten = [...session.reset];
    invocation.io.stdout.write(`reset ${forgotten.join(', ')}: ${forgotten.length === 1 ? 'it runs' : 'they run'} again next time\n`);
    return ExitCode.success;
  });
}

/** `--reset-state`: forgets every stamp of the environment, once confirmed (a terminal's y, or --yes). */
export function resetState(invocation: Invocation, session: Session): Promise<number> {
  return withRunLock(invocation, session, async () => {
    if (!invocation.options.yes && !(await confirm(`forget every stamp of environment ${session.environmentName}?`))) {
      return report(invocation, { reason: 'not-confirmed', option: '--reset-state' }, ExitCode.usage);
    }
    session.store.resetAll();
    invocation.io.stdout.write(`reset every stamp of ${session.environmentName}\n`);
    return ExitCode.success;
  });
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}
