/** A path into the environment's configuration, e.g. `['clusters', 'osdc', 'nodes', '0', 'address']`. */
export type ConfigPath = readonly string[];

export function encodePath(at: ConfigPath): string {
  return JSON.stringify(at);
}

export function decodePath(encoded: string): ConfigPath {
  return JSON.parse(encoded) as string[];
}

/** `clusters.osdc.nodes[0].address`, for messages. */
export function formatConfigPath(at: ConfigPath | string): string {
  const keys = typeof at === 'string' ? decodePath(at.replace(/#keys$/, '')) : at;
  return keys.map((key, index) => (/^\d+$/.test(key) ? `[${key}]` : index === 0 ? key : `.${key}`)).join('') || '(root)';
}
