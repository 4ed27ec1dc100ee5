import { toolVersions, versionArgumentsOf } from '../stamps/tool-versions.js';

/** Each tool the tasks call. */
const tools: readonly string[] = ['ansible-playbook', 'packer', 'tofu', 'terraform', 'kubectl', 'helm', 'ssh', 'python3', 'git', 'dig'];

/**
 * `--versions`: Onboarder, Node and every tool the tasks call, one per line (the image's check). Each tool
 * is asked now, not taken from what earlier runs remembered.
 */
export async function formatVersions(version: string): Promise<string> {
  const found = await Promise.all(tools.map((tool) => toolVersions.version(tool, versionArgumentsOf(tool), { fresh: true })));
  const lines = [`onboarder ${version}`, `node ${process.version}`, ...tools.map((tool, index) => `${tool} ${found[index]}`)];
  return `${lines.join('\n')}\n`;
}
