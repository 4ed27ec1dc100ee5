import type { Environment } from '../../environments/schema.js';
import { clustersOf } from '../shared/kit.js';

export interface DnsRecord {
  readonly name: string;
  readonly type: 'A' | 'CNAME';
  readonly value: string;
}

/** The desired DNS records of a site: every node, each cluster's API name, and the extra records. */
export function desiredRecords(config: Environment): DnsRecord[] {
  const records: DnsRecord[] = [];
  for (const cluster of clustersOf(config)) {
    for (const node of [...cluster.controlPlane, ...cluster.workers]) records.push({ name: node.name, type: 'A', value: node.address });
    records.push({ name: `api.${cluster.name}`, type: 'A', value: cluster.apiAddress });
  }
  for (const host of config.managementHosts) records.push({ name: host.name, type: 'A', value: host.address });
  records.push(...config.dns.records);
  return records;
}

/**
 * Each cluster's applications name, `*.apps.<cluster>` (as OpenShift names them), answered with the nodes
 * ingress-nginx answers on (a platform service: a DaemonSet on the nodes' ports 80 and 443): a kubeadm
 * cluster's workers, or its control plane where it has none; every node of an RKE2 cluster. A node with a
 * NoSchedule or NoExecute taint runs no ingress pod and is left out; a cluster with no such node gets no name.
 */
export function ingressRecords(config: Environment): { readonly name: string; readonly addresses: string[] }[] {
  return clustersOf(config).flatMap((cluster) => {
    const candidates = cluster.distribution === 'rke2' ? [...cluster.controlPlane, ...cluster.workers] : cluster.workers.length > 0 ? cluster.workers : cluster.controlPlane;
    const addresses = candidates.filter((node) => !node.taints.some((taint) => taint.effect !== 'PreferNoSchedule')).map((node) => node.address);
    return addresses.length > 0 ? [{ name: `apps.${cluster.name}`, addresses }] : [];
  });
}

/**
 * dnsmasq configuration of one of the site's DNS servers (listening on its address) serving the zone from a hosts file, and forwarding every other name to the site's
 * forwarders (none on an air-gapped site: the zone alone). The zone is local: a name in it that the site does
 * not declare is answered as missing, never asked upstream. A bare name (no dot) and a private address's
 * reverse lookup are never forwarded either. The CNAMEs and the applications names are options here (a hosts
 * file holds neither): dnsmasq reads them when it starts, not on a reload.
 */
export function dnsmasqConfig(config: Environment, hostsFile: string, listenAddress: string): string {
  return [
    '# Managed by Onboarder (desired state): changes here are overwritten.',
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    `listen-address=${listenAddress}`,
    `local=/${config.dns.zone}/`,
    `domain=${config.dns.zone}`,
    `addn-hosts=${hostsFile}`,
    'domain-needed',
    'bogus-priv',
    ...config.dns.forwarders.map((forwarder) => `server=${forwarder}`),
    ...desiredRecords(config)
      .filter((record) => record.type === 'CNAME')
      .map((record) => `cname=${record.name}.${config.dns.zone},${record.value}`),
    ...ingressRecords(config).flatMap((record) => record.addresses.map((address) => `address=/${record.name}.${config.dns.zone}/${address}`)),
    '',
  ].join('\n');
}

export function dnsmasqHosts(config: Environment): string {
  const lines = desiredRecords(config)
    .filter((record) => record.type === 'A')
    .map((record) => `${record.value} ${record.name}.${config.dns.zone}`);
  return `${lines.join('\n')}\n`;
}
