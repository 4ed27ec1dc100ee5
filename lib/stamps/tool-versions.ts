import { execFile } from 'node:child_process';

const versions = new Map<string, Promise<string>>();

/**
 * The first line a tool prints for its version (`--version` unless told otherwise; 'not installed' when
 * it is missing), asked once per process. Stamps include it, so upgrading ansible re-runs the tasks that
 * declared it; `--versions` prints them.
 */
export function toolVersion(tool: string, args: readonly string[] = ['--version']): Promise<string> {
  const key = [tool, ...args].join('\0');
  let version = versions.get(key);
  if (!version) {
    version = new Promise((resolve) => {
      execFile(tool, [...args], { timeout: 30_000, env: { ...process.env, CHECKPOINT_DISABLE: '1' } }, (error, stdout, stderr) => {
        if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return resolve('not installed');
        const line = `${stdout}\n${stderr}`.split('\n').map((text) => text.trim()).find((text) => text !== '' && !/warning/i.test(text));
        resolve(line ?? 'unknown');
      });
    });
    versions.set(key, version);
  }
  return version;
}
