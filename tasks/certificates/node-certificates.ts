import { X509Certificate } from 'node:crypto';
import type { ToolContext } from '../../lib/tools/command.js';
import { sshExec } from '../../lib/tools/ssh.js';
import type { Environment } from '../../environments/schema.js';
import { sshTarget, type InventoryNode } from '../shared/kit.js';

/** A certificate a node holds: where, until when, and whether it is a CA (which a renewal does not renew). */
export interface NodeCertificate {
  readonly node: string;
  /** Its file, or `file (client certificate)` for one inside a kubeconfig. */
  readonly where: string;
  readonly validTo: Date;
  readonly ca: boolean;
}

/**
 * Where each distribution keeps a node's certificates: kubeadm's PKI and the client certificates of the
 * control plane's kubeconfigs (the kubelet rotates its own); RKE2's server and agent certificates.
 */
const certificateFolders = {
  kubeadm: { controlPlane: ['/etc/kubernetes/pki'], worker: [] },
  rke2: { controlPlane: ['/var/lib/rancher/rke2/server/tls', '/var/lib/rancher/rke2/agent'], worker: ['/var/lib/rancher/rke2/agent'] },
} as const;
const kubeadmKubeconfigs = ['/etc/kubernetes/admin.conf', '/etc/kubernetes/super-admin.conf', '/etc/kubernetes/controller-manager.conf', '/etc/kubernetes/scheduler.conf'];

/**
 * Reads the certificates of one node over SSH (only certificates: never a key, never a whole kubeconfig)
 * and parses them with Node's X509Certificate. A folder or kubeconfig that is not there has none.
 */
export async function nodeCertificates(context: ToolContext & { readonly config: Environment }, node: InventoryNode, distribution: 'kubeadm' | 'rke2', part: 'controlPlane' | 'worker'): Promise<NodeCertificate[]> {
  const target = sshTarget(context.config, context.root, node);
  const folders = certificateFolders[distribution][part];
  const certificates: NodeCertificate[] = [];
  if (folders.length > 0) {
    // Each *.crt after a line with its path; a folder that is not there is no error.
    // (Certificates are no secret: stdoutIsSecret only keeps their bulk out of the log.)
    const listed = await sshExec(context, target, ['find', ...folders, '-name', '*.crt', '-type', 'f', '-printf', '## %p\\n', '-exec', 'cat', '{}', ';'], { asRoot: true, okExitCodes: [1], timeoutMs: 60_000, stdoutIsSecret: true });
    certificates.push(...listedCertificates(node.name, listed.stdout));
  }
  if (distribution === 'kubeadm' && part === 'controlPlane') {
    const found = await sshExec(context, target, ['grep', '-H', 'client-certificate-data:', ...kubeadmKubeconfigs], { asRoot: true, okExitCodes: [1, 2], timeoutMs: 60_000 });
    certificates.push(...kubeconfigCertificates(node.name, found.stdout));
  }
  return certificates;
}

/** The certificates of `find ... -printf '## %p\n' -exec cat {} ;`: each file's path on a `## ` line, then its PEM text. */
export function listedCertificates(node: string, output: string): NodeCertificate[] {
  return output
    .split(/^## /m)
    .slice(1)
    .flatMap((part) => {
      const newline = part.indexOf('\n');
      return parsed(node, part.slice(0, newline), part.slice(newline + 1));
    });
}

/** The client certificates of `grep -H client-certificate-data: <kubeconfigs>`: `file:    client-certificate-data: <base64 PEM>`. */
export function kubeconfigCertificates(node: string, output: string): NodeCertificate[] {
  return output.split('\n').flatMap((line) => {
    const match = /^([^:]+):\s*client-certificate-data:\s*(\S+)\s*$/.exec(line);
    return match ? parsed(node, `${match[1]} (client certificate)`, Buffer.from(match[2]!, 'base64').toString('utf8')) : [];
  });
}

function parsed(node: string, where: string, pem: string): NodeCertificate[] {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!first) return [];
  try {
    const certificate = new X509Certificate(first[0]);
    return [{ node, where, validTo: new Date(certificate.validTo), ca: certificate.ca }];
  } catch {
    return [];
  }
}

/**
 * The leaf certificates that expire within `days` of `now` (or have expired), soonest first, each as
 * `node: where expires DATE (in N days)`. CAs are left out: no renewal renews them.
 */
export function expiringCertificates(certificates: readonly NodeCertificate[], now: Date, days: number): string[] {
  const limit = now.getTime() + days * 86_400_000;
  return certificates
    .filter((certificate) => !certificate.ca && certificate.validTo.getTime() < limit)
    .sort((a, b) => a.validTo.getTime() - b.validTo.getTime())
    .map((certificate) => {
      const left = Math.floor((certificate.validTo.getTime() - now.getTime()) / 86_400_000);
      const when = left < 0 ? `expired ${certificate.validTo.toISOString().slice(0, 10)}` : `expires ${certificate.validTo.toISOString().slice(0, 10)} (in ${left} day${left === 1 ? '' : 's'})`;
      return `${certificate.node}: ${certificate.where} ${when}`;
    });
}

/** The CAs that expire within `days`: no renewal renews them, so they are named for the operator. */
export function expiringAuthorities(certificates: readonly NodeCertificate[], now: Date, days: number): string[] {
  const limit = now.getTime() + days * 86_400_000;
  return certificates.filter((certificate) => certificate.ca && certificate.validTo.getTime() < limit).map((certificate) => `${certificate.node}: ${certificate.where} (a CA) expires ${certificate.validTo.toISOString().slice(0, 10)}`);
}
