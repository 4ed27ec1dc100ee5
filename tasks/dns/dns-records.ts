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

/** dnsmasq configuration serving the zone from a hosts file: authoritative for the zone, nothing else. */
export function dnsmasqConfig(config: Environment, hostsFile: string): string {
  return [
    '# Managed by Onboarder (desired state): changes here are overwritten.',
    'no-resolv',
    'no-hosts',
    'bind-interfaces',
    `listen-address=${config.dns.server.address}`,
    `local=/${config.dns.zone}/`,
    `domain=${config.dns.zone}`,
    `addn-hosts=${hostsFile}`,
    ...desiredRecords(config)
      .filter((record) => record.type === 'CNAME')
      .map((record) => `cname=${record.name}.${config.dns.zone},${record.value}`),
    '',
  ].join('\n');
}

export function dnsmasqHosts(config: Environment): string {
  const lines = desiredRecords(config)
    .filter((record) => record.type === 'A')
    .map((record) => `${record.value} ${record.name}.${config.dns.zone}`);
  return `${lines.join('\n')}\n`;
}
