/**
 * A release file as a node receives it: its name, the sha256 it must have, and where that digest came from
 * (the publisher's checksum file, or the controller's copy that images:fetch or the bundle verified). The
 * playbooks copy each to the node and check it there before anything is installed from it.
 */
export interface ReleaseFile {
  readonly file: string;
  readonly sha256: string;
  readonly source: string;
}

/**
 * The digests a publisher's checksum file lists, by file name: `sha256sum` lines (`<hex>  <name>`, `*` for
 * binary mode), or a lone digest (dl.k8s.io's `<binary>.sha256`), which is given the name `lone`.
 */
export function publishedDigests(text: string, lone?: string): Map<string, string> {
  const digests = new Map<string, string>();
  for (const line of text.split('\n').map((each) => each.trim())) {
    const named = /^([0-9a-f]{64})\s+\*?(\S+)$/.exec(line);
    if (named) digests.set(named[2]!, named[1]!);
    else if (lone && /^[0-9a-f]{64}$/.test(line)) digests.set(lone, line);
  }
  return digests;
}
