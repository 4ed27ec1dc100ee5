import { toolVersions, versionArgumentsOf } from '../stamps/tool-versions.js';

/** Each tool the tasks call. */
const tools: readonly string[] = ['ansible-playbook', 'packer', 'tofu', 'terraform', 'kubectl', 'helm', 'ssh', 'python3', 'git', 'dig', 'gpg'];

/**
 * `--versions`: Onboarder, Node and every tool the tasks call, one per line (the image's check). Each tool
 * is asked now, not taken from what earlier runs remembered.
 */
export async function formatVersions(version: string): Promise<string> {
  const found = await versionsOf(version);
  const lines = [`onboarder ${found.onboarder}`, `node ${found.node}`, ...Object.entries(found.tools).map(([tool, each]) => `${tool} ${each}`)];
  return `${lines.join('\n')}\n`;
}

/** Onboarder's, Node's and each tool's version, as `--versions --json` prints them. */
export async function versionsOf(version: string): Promise<{ readonly onboarder: string; readonly node: string; readonly tools: Record<string, string> }> {
  const found = await Promise.all(tools.map((tool) => toolVersions.version(tool, versionArgumentsOf(tool), { fresh: true })));
  return { onboarder: version, node: process.version, tools: Object.fromEntries(tools.map((tool, index) => [tool, String(found[index])])) };
}
