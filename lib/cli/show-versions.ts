import { execFile } from 'node:child_process';

const tools: readonly (readonly [string, readonly string[]])[] = [
  ['ansible-playbook', ['--version']],
  ['packer', ['version']],
  ['tofu', ['version']],
  ['terraform', ['version']],
  ['kubectl', ['version', '--client']],
  ['helm', ['version', '--short']],
  ['ssh', ['-V']],
  ['python3', ['--version']],
  ['git', ['--version']],
  ['dig', ['-v']],
];

function firstLine(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, [...args], { timeout: 20_000, env: { ...process.env, CHECKPOINT_DISABLE: '1' } }, (error, stdout, stderr) => {
      const line = `${stdout}${stderr}`.split('\n').map((text) => text.trim()).find((text) => text !== '' && !/warning/i.test(text));
      resolve(error && (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not installed' : (line ?? 'unknown'));
    });
  });
}

/** `--versions`: Onboarder, Node and every tool the tasks call, one per line (the image's check). */
export async function formatVersions(version: string): Promise<string> {
  const found = await Promise.all(tools.map(([command, args]) => firstLine(command, args)));
  const lines = [`onboarder ${version}`, `node ${process.version}`, ...tools.map(([command], index) => `${command} ${found[index]}`)];
  return `${lines.join('\n')}\n`;
}
