/**
 * Thrown by tool helpers when a command failed; the engine turns it into an `exit-non-zero` failure of the
 * task, with the command line, exit code and tail of output.
 */
export class CommandFailure extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    readonly outputTail: string,
    /** A sentence that says what went wrong in the tool's terms, when the helper knows better than the exit code. */
    readonly explanation?: string,
  ) {
    super(explanation ?? `${command} exited with ${exitCode ?? signal}`);
    this.name = 'CommandFailure';
  }
}

/**
 * Thrown by a task when another attempt cannot mend what went wrong (a download whose digest is not its
 * publisher's, a refused credential, a file the operator must bring): the task fails at once, its retries
 * unused, with the message as any thrown error's.
 */
export class PermanentFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentFailure';
  }
}

/**
 * Thrown by the body of a `batch` task when some of the instances it ran for failed and the others
 * succeeded (a playbook whose recap names two hosts failed): those fail with `cause`, the others are stamped.
 */
export class MembersFailed extends Error {
  constructor(
    readonly members: readonly string[],
    override readonly cause: Error,
  ) {
    super(cause.message);
    this.name = 'MembersFailed';
  }
}
