import { execFile } from 'node:child_process';

const versions = new Map<string, Promise<string>>();

/**
 * The first line a tool prints for `--version` (or 'not installed'), asked once per process. Stamps include
 * it, so upgrading ansible re-runs the tasks that declared it.
 */
export function toolVersion(tool: string): Promise<string> {
  let version = versions.get(tool);
  if (!version) {
    version = new Promise((resolve) => {
      execFile(tool, ['--version'], { timeout: 30_000 }, (error, stdout, stderr) => {
        const text = `${stdout}${stderr}`.trim().split('\n')[0]?.trim();
        resolve(error && !text ? 'not installed' : (text ?? 'unknown'));
      });
    });
    versions.set(tool, version);
  }
  return version;
}
