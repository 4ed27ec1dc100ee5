import { z } from 'zod';
import { defineTasks } from '../lib/dsl/define-tasks.js';
import type { Dependency, TaskInstance } from '../lib/dsl/task.js';
import type { PlatformConfig } from '../environments/platform-config.js';

/**
 * The OpenSpace deployment graph, in the seeds' phase order but with real dependencies, so independent
 * work (the VMs and node preparation of OSMS and OSDC) runs side by side. The task bodies that drive
 * ansible, packer, tofu and kubectl come with the tool helpers; until then each body fails with a clear
 * message instead of pretending to work.
 */
const tasks = defineTasks<PlatformConfig>();
const clusterName = z.enum(['mcm', 'osms', 'osdc']);

const notYetImplemented = (what: string) => () => {
  throw new Error(`${what} is not implemented yet: its tool helper is pending (see the open issues)`);
};

const base = tasks.namespace('base');
export const managementHosts = base.task({ name: 'management-hosts', description: 'KVM management hosts: SSH key, packages, bridges and VLANs', tools: ['ansible-playbook'], run: notYetImplemented('base:management-hosts') });
export const firewall = base.task({ name: 'opnsense', description: 'OPNsense firewall configuration', deps: [managementHosts], run: notYetImplemented('base:opnsense') });
export const baseTarget = tasks.task({ name: 'base', description: 'Base infrastructure: management hosts and firewalls', deps: [managementHosts, firewall] });

const foundation = tasks.namespace('foundation');
export const validation = foundation.task({ name: 'validation', description: 'SSH connectivity and key, network, RBD storage', deps: [baseTarget], run: notYetImplemented('foundation:validation') });
export const toolsStorage = foundation.task({ name: 'tools-storage', description: 'virt-customize and RBD-ISO storage on Proxmox', deps: [validation], run: notYetImplemented('foundation:tools-storage') });
export const packerUser = foundation.task({ name: 'packer-user', description: 'Packer user, a fresh API token, ACLs', policy: 'always', deps: [validation], run: notYetImplemented('foundation:packer-user') });
export const cloudImage = foundation.task({ name: 'cloud-image', description: 'Ubuntu cloud image: download, customize, upload', deps: [toolsStorage], run: notYetImplemented('foundation:cloud-image') });
export const baseTemplate = foundation.task({ name: 'base-template', description: 'Template VM 9002 from the cloud image (drift checked)', deps: [cloudImage], run: notYetImplemented('foundation:base-template') });
export const packerConfig = foundation.task({ name: 'packer-config', description: 'packer/.env and variables.json, always refreshed', policy: 'always', deps: [packerUser], run: notYetImplemented('foundation:packer-config') });
export const goldenImage = tasks.task({ name: 'golden-image', description: 'packer build of golden template 9001', tools: ['packer'], deps: [baseTemplate, packerConfig], run: notYetImplemented('golden-image') });
export const dns = tasks.task({ name: 'dns', description: 'Cluster DNS records, desired state, resolution validated', policy: 'always', deps: [validation], run: notYetImplemented('dns') });

export const clusterVms = tasks.task({
  name: 'cluster-vms',
  description: 'OpenTofu plan and apply of one cluster\'s VMs',
  inputs: { cluster: clusterName },
  deps: [goldenImage, dns],
  pool: 'proxmox-api',
  run: notYetImplemented('cluster-vms'),
});
export const nodePrep = tasks.task({
  name: 'node-prep',
  description: 'Prepare one cluster\'s nodes over Ansible',
  inputs: { cluster: clusterName },
  deps: ({ cluster }) => [clusterVms.with({ cluster })],
  run: notYetImplemented('node-prep'),
});
export const kubernetes = tasks.task({
  name: 'kubernetes',
  description: 'kubeadm init and join with Cilium (RKE2 for MCM)',
  inputs: { cluster: clusterName },
  deps: ({ cluster }): Dependency[] => [nodePrep.with({ cluster }), ...(cluster === 'mcm' ? [] : [() => mcm])],
  run: notYetImplemented('kubernetes'),
});
export const platformServices = tasks.task({
  name: 'platform-services',
  description: 'ingress-nginx, kube-prometheus-stack, cert-manager, Proxmox CSI, Velero',
  inputs: { cluster: clusterName },
  deps: ({ cluster }): Dependency[] => [kubernetes.with({ cluster })],
  run: notYetImplemented('platform-services'),
});

export const mcm: TaskInstance = tasks.task({ name: 'mcm', description: 'MCM: the RKE2 management cluster', deps: [platformServices.with({ cluster: 'mcm' })] });
export const osms = tasks.task({ name: 'osms', description: 'OSMS: the management plane cluster', deps: [platformServices.with({ cluster: 'osms' })] });
export const osdc = tasks.task({ name: 'osdc', description: 'OSDC: the data plane cluster', deps: [platformServices.with({ cluster: 'osdc' })] });
