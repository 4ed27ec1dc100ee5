// What the environments of the whole-machine Kubernetes suites share, as environment file source text.

/**
 * The site's settings: node packages the rig's mirror holds, SSH as a user with sudo (as on a cloud image's
 * own user: every step runs through become or sudo), machines that exist (no Proxmox), one management host
 * never contacted (the steps run with --only).
 */
export const machineSite = `  packages: { management: ['python3'], nodes: ['python3', 'conntrack', 'socat'] },
  ssh: { knownHosts: '.cache/rig/known_hosts', privateKey: '.cache/rig/id_ed25519', user: 'deploy' },
  infrastructure: 'existing',
  managementHosts: [{ name: 'kvm1', address: '10.254.254.1' }],`;

/** The management cluster every site declares, never contacted here. */
export const untouchedMcm = `    mcm: { role: 'mcm', distribution: 'rke2', controlPlane: [{ name: 'mcm-cp1', address: '10.254.254.21', vmId: 2101 }], apiAddress: '10.254.254.21', podCidr: '10.42.0.0/16', serviceCidr: '10.43.0.0/16' },`;
