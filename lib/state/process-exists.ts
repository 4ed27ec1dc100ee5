/**
 * Whether a process with this pid exists on this machine: signal 0 checks without signalling. EPERM means
 * it exists as another user's. (A pid can be reused: "exists" can be a newer process, never the reverse.)
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
