import { toolVersion } from '../stamps/tool-versions.js';

/** Each tool the tasks call, with the arguments that make it print its version. */
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

/** `--versions`: Onboarder, Node and every tool the tasks call, one per line (the image's check). */
export async function formatVersions(version: string): Promise<string> {
  const found = await Promise.all(tools.map(([command, args]) => toolVersion(command, args)));
  const lines = [`onboarder ${version}`, `node ${process.version}`, ...tools.map(([command], index) => `${command} ${found[index]}`)];
  return `${lines.join('\n')}\n`;
}
