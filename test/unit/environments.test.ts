import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { lab } from '../../environments/lab.js';
import { loadEnvironment } from '../../environments/load-environment.js';
import type { EnvironmentDefinition } from '../../environments/schema.js';
import { renderFailure } from '../../lib/reporter/render-failure.js';
import { repositoryRoot } from '../helpers/project.js';
import { poolCapacities } from '../../lib/cli/project.js';
import { pools } from '../../tasks/index.js';
import { ConfigReadRecorder, replayReads } from '../../lib/stamps/config-reads.js';
import { drainPolicyOf } from '../../environments/drain-settings.js';
import { clusterOf, clustersOf, drainPolicy, inventoryNode, nodeOf, rollWidth } from '../../tasks/shared/kit.js';
import { directDestinations, proxyEnvironment } from '../../tasks/shared/site-proxy.js';
import { workersAtOnce } from '../../tasks/infrastructure/index.js';

/** A deep copy of the example with one change. */
function broken(change: (environment: any) => void): EnvironmentDefinition {
  const copy = structuredClone(example) as any;
  change(copy);
  return copy;
}

function errorOf(definition: EnvironmentDefinition): string {
  const loaded = loadEnvironment('example', definition, repositoryRoot);
  assert.not.ok(loaded.ok, 'expected the environment to be refused');
  return loaded.ok ? '' : renderFailure(loaded.error);
}

test('the bundled environments load; secrets are resolved for redaction', () => {
  const loaded = loadEnvironment('example', example, repositoryRoot);
  assert.ok(loaded.ok, loaded.ok ? '' : renderFailure(loaded.error));
  if (loaded.ok) {
    assert.ok(loaded.value.secrets.includes('example-proxmox-token-not-a-real-secret'));
    assert.is(loaded.value.config.clusters['osdc-b']?.workers.length, 3);
    assert.is(loaded.value.config.proxmox?.templates.baseVmId, 9002);
    assert.is(loaded.value.config.clusters['osdc-a']?.workersAtOnce, '20%', "kubespray's serial for workers");
    assert.equal(loaded.value.config.backups, { directory: 'backups', keep: 7, every: '24h' }, 'etcd snapshots: a week of daily ones under backups/');
    assert.equal(loaded.value.config.audit, { maxAge: 30, maxBackups: 10, maxSize: 100 }, "the API servers' audit log as kubespray keeps it");
    // The kubelet's reservations, graceful shutdown and kernel settings' protection as kubespray writes them by default.
    assert.equal(loaded.value.config.clusters.osms?.kubelet, {
      kubeReserved: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '500Mi', pid: '1000' },
      systemReserved: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '500Mi', pid: '1000' },
      shutdownGracePeriod: '60s',
      shutdownGracePeriodCriticalPods: '20s',
      protectKernelDefaults: true,
    });
    // A roll drains a node as kubespray's upgrade does.
    assert.equal(loaded.value.config.clusters.osms?.drain, { gracePeriod: '5m', timeout: '6m', attempts: 3 });
    assert.equal(drainPolicyOf(loaded.value.config.clusters.osms!.drain), { arguments: ['--ignore-daemonsets', '--delete-emptydir-data', '--force', '--grace-period=300', '--timeout=360s'], attempts: 3, retryDelaySeconds: 10 });
    assert.equal(drainPolicyOf({ gracePeriod: '15m', timeout: '1h', attempts: 1 }).arguments.slice(3), ['--grace-period=900', '--timeout=3600s']);
    // Velero's S3 keys are secrets: redacted, and digested so that a rotated one installs Velero again.
    assert.ok(loaded.value.secrets.includes('example-velero-secret-key-not-a-real-secret'));
    assert.match(String(loaded.value.config.secretDigests?.velero?.secretAccessKey), /^[0-9a-f]{32}$/);
    assert.equal([loaded.value.config.velero?.schedule, loaded.value.config.velero?.ttl, loaded.value.config.velero?.region], ['0 3 * * *', '720h', 'minio']);
  }
  assert.ok(loadEnvironment('lab', lab, repositoryRoot).ok);
});

const cases: [string, (environment: any) => void, RegExp | string][] = [
  [
    'two mirrors on one host verified two ways (apt takes one setting per host name)',
    (e) => (e.upstreamMirrors = [{ prefix: 'http://archive.ubuntu.com/ubuntu/', mirror: 'https://nexus.corp.example/ubuntu/', insecure: true }, { prefix: 'https://get.helm.sh/', mirror: 'https://nexus.corp.example:8443/helm/' }]),
    "upstreamMirrors[1].mirror: is on host nexus.corp.example, verified with the system's CAs, where upstreamMirrors[0] on the same host is verified with insecure: the hosts' apt verifies a host one way",
  ],
  ['a kubelet shutdown grace period without a unit', (e) => (e.clusters['osdc-a'].kubelet = { shutdownGracePeriod: '60' }), "clusters.osdc-a.kubelet.shutdownGracePeriod: '60' is not a duration: a number and a unit, as 60s, 2m or 1m30s"],
  ['more time for critical pods than the whole shutdown', (e) => (e.clusters['osdc-a'].kubelet = { shutdownGracePeriod: '30s', shutdownGracePeriodCriticalPods: '1m' }), 'clusters.osdc-a.kubelet.shutdownGracePeriodCriticalPods: keeps more time for critical pods (shutdownGracePeriodCriticalPods) than the whole shutdown has'],
  ['a drain given no more time than its pods have to stop', (e) => (e.clusters['osdc-a'].drain = { gracePeriod: '10m' }), 'clusters.osdc-a.drain.timeout: gives a drain (timeout) no more time than each of its pods has to stop (gracePeriod)'],
  ['a drain tried no times', (e) => (e.clusters['osdc-a'].drain = { attempts: 0 }), 'clusters.osdc-a.drain.attempts'],
  ['a memory reservation in an unknown unit', (e) => (e.clusters['osdc-a'].kubelet = { systemReserved: { memory: '1GB' } }), "clusters.osdc-a.kubelet.systemReserved.memory: '1GB' is not a size"],
  ['a reservation of a resource the kubelet does not reserve', (e) => (e.clusters['osdc-a'].kubelet = { kubeReserved: { gpu: '1' } }), "clusters.osdc-a.kubelet.kubeReserved: unknown key 'gpu'"],
  [
    'reservations that leave a node no memory for pods',
    (e) => {
      e.clusters['osdc-a'].workers[1].memoryMiB = 2048;
      e.clusters['osdc-a'].kubelet = { systemReserved: { memory: '1.8Gi' } };
    },
    "clusters.osdc-a.kubelet: keeps 2200 MiB of memory from pods (kubeReserved, systemReserved and the kubelet's 100 MiB eviction threshold), and node osdc-a-w2 has 2048 MiB: give it more (memoryMiB), or reserve less",
  ],
  ['reservations that leave a node no CPU for pods', (e) => (e.clusters.osms.kubelet = { systemReserved: { cpu: '3.9' } }), 'clusters.osms.kubelet: keeps 4 CPU cores from pods (kubeReserved and systemReserved), and node osms-cp1 has 4: give it more (cores), or reserve less'],
  ['a Kubernetes older than the kubelet drop-in directory', (e) => (e.versions.kubernetes = 'v1.29.8'), 'versions.kubernetes: v1.29.8 is older than Kubernetes 1.30, the first whose kubelet takes the drop-in configuration Onboarder writes (clusters.*.kubelet): deploy 1.30 or later'],
  ['a CoreDNS autoscaler that is neither false nor settings', (e) => (e.clusters['osdc-a'].dnsAutoscaler = 'yes'), 'clusters.osdc-a.dnsAutoscaler: is false (no autoscaler), or the settings { coresPerReplica, nodesPerReplica, minReplicas }'],
  ['a CoreDNS autoscaler setting of the wrong type: the setting is named', (e) => (e.clusters['osdc-a'].dnsAutoscaler = { nodesPerReplica: 'x' }), 'clusters.osdc-a.dnsAutoscaler.nodesPerReplica: Invalid input: expected number, received string'],
  ['a secret given as a value', (e) => (e.velero.accessKeyId = 5), "velero.accessKeyId: is a secret reference: { env: 'VARIABLE' } or { file: 'path/to/file' }, never the secret itself"],
  ["a secret reference's file of the wrong type: the field is named", (e) => (e.velero.accessKeyId = { file: 3 }), 'velero.accessKeyId.file: Invalid input: expected string, received number'],
  ['CoreDNS autoscaler settings on an RKE2 cluster (its chart scales CoreDNS)', (e) => (e.clusters.mcm.dnsAutoscaler = { minReplicas: 3 }), "clusters.mcm.dnsAutoscaler: is for kubeadm clusters: RKE2's rke2-coredns chart scales CoreDNS itself"],
  ['a CoreDNS autoscaler of no replicas', (e) => (e.clusters['osdc-a'].dnsAutoscaler = { minReplicas: 0 }), 'clusters.osdc-a.dnsAutoscaler.minReplicas: Too small: expected number to be >=1'],
  ['an RKE2 older than the kubelet drop-in directory', (e) => (e.versions.rke2 = 'v1.29.9+rke2r1'), 'versions.rke2: v1.29.9+rke2r1 is older than Kubernetes 1.30'],
  ['a workersAtOnce that is neither a count nor a percentage', (e) => (e.clusters['osdc-a'].workersAtOnce = '0%'), /clusters\.osdc-a\.workersAtOnce: .*a percentage such as 20%/],
  ['a backup interval in days', (e) => (e.backups = { every: '1d' }), /backups\.every: is a duration in minutes or hours, such as 30m or 24h/],
  ['no snapshot kept', (e) => (e.backups = { keep: 0 }), /backups\.keep: /],
  ['an audit log kept for no day', (e) => (e.audit = { maxAge: 0 }), /audit\.maxAge: /],
  ['a time server that is a URL', (e) => (e.site.ntpServers = ['ntp://10.0.0.1']), /site\.ntpServers\[0\]: is a time server: an address or a host name/],
  ['an audit setting it does not have', (e) => (e.audit = { path: '/tmp/audit.log' }), /audit: .*path/],
  ['a Velero bucket that S3 refuses', (e) => (e.velero.bucket = 'Backups_1'), /velero\.bucket: is an S3 bucket name/],
  ['a Velero schedule that is not cron', (e) => (e.velero.schedule = '@daily 3am'), /velero\.schedule: is a cron schedule of five fields/],
  ['a workersAtOnce of no worker', (e) => (e.clusters['osdc-a'].workersAtOnce = 0), /clusters\.osdc-a\.workersAtOnce/],
  ['an address that is not IPv4', (e) => (e.clusters['osdc-a'].controlPlane[2].address = '10.0.0.300'), "environment example: clusters.osdc-a.controlPlane[2].address: '10.0.0.300' is not an IPv4 address"],
  ['a VM id of the wrong type', (e) => (e.clusters.osms.workers[0].vmId = '3111'), /clusters\.osms\.workers\[0\]\.vmId: .*expected number/i],
  ['a duplicate VM id', (e) => (e.clusters['osdc-a'].workers[0].vmId = 3101), 'clusters.osdc-a.workers[0].vmId: VM id 3101 is already used by clusters.osms.controlPlane[0]'],
  ['a node in two clusters', (e) => (e.clusters['osdc-a'].workers[0].name = 'osms-w1'), "clusters.osdc-a.workers[0].name: node 'osms-w1' is already in cluster osms"],
  ['a VM placed on a Proxmox node the site does not have', (e) => (e.clusters.mcm.controlPlane[0].proxmoxNode = 'pve9'), /clusters\.mcm\.controlPlane\[0\]\.proxmoxNode: 'pve9' is not one of proxmox\.nodes \(pve1, /],
  ['a VM id reserved for a template', (e) => (e.clusters.mcm.controlPlane[0].vmId = 9001), 'clusters.mcm.controlPlane[0].vmId: VM id 9001 is reserved for a template'],
  ['a missing secret variable', (e) => (e.proxmox.token = { env: 'ONBOARDER_TEST_UNSET_TOKEN' }), 'proxmox.token: environment variable ONBOARDER_TEST_UNSET_TOKEN is not set: set it before running'],
  ['a secret written as a value', (e) => (e.proxmox.token = 'pve-token-in-clear'), /proxmox\.token: /],
  ['an unknown key (a typo)', (e) => (e.clusters['osdc-a'].wrokers = []), "clusters.osdc-a: unknown key 'wrokers'"],
  ['a CIDR with a bad prefix', (e) => (e.clusters['osdc-a'].podCidr = '10.46.0.0/33'), "clusters.osdc-a.podCidr: '10.46.0.0/33' is not an IPv4 CIDR"],
  ['a missing DNS zone', (e) => delete e.dns.zone, /dns\.zone: is missing/],
  ['a version that is not one', (e) => (e.versions.cilium = 'latest'), "versions.cilium: 'latest' is not a version"],
  ['an API URL that is not a URL', (e) => (e.proxmox.apiUrl = 'pve1:8006'), "proxmox.apiUrl: 'pve1:8006' is not an http(s) URL"],
  ['an unknown distribution', (e) => (e.clusters.mcm.distribution = 'k3s'), /clusters\.mcm\.distribution: .*"rke2"|'rke2'/],
  ['a cluster without control plane', (e) => (e.clusters['osdc-a'].controlPlane = []), 'clusters.osdc-a.controlPlane: a cluster needs at least one control-plane node'],
  ['a site registry user without a password', (e) => (e.siteRegistry = { address: 'registry.example:5000', username: 'puller' }), 'siteRegistry.username: has a username without a password or a password without a username: give both, or neither'],
  ['Proxmox infrastructure without Proxmox', (e) => delete e.proxmox, "proxmox: is missing: infrastructure 'proxmox' needs"],
  [
    "an air-gapped kubeadm site at a version whose kubeadm images the manifest does not know",
    (e) => {
      e.site.airGapped = true;
      e.versions.kubernetes = 'v1.30.99';
    },
    'versions.kubernetes: v1.30.99: the images kubeadm runs at this version (etcd, CoreDNS, pause) are not in images/kubeadm-images.ts: add its line from `kubeadm config images list --kubernetes-version v1.30.99`',
  ],
  // Without a pin, helm would install whatever is newest: refused on load instead.
  ['a platform chart without a version', (e) => delete e.versions.charts.velero, /versions\.charts\.velero: is missing/],
  ['an ISO directory that is not absolute', (e) => (e.proxmox.storage.isoDirectory = 'template/iso'), 'proxmox.storage.isoDirectory: an absolute directory path without a trailing /'],
  // Wrong together, though each value alone is well formed (issue 16, part 3).
  ['two nodes with one address', (e) => (e.clusters['osdc-a'].workers[1].address = '192.0.2.31'), 'clusters.osdc-a.workers[1].address: 192.0.2.31 is already the address of clusters.osms.controlPlane[0].address'],
  ['a node with a management host\'s address', (e) => (e.clusters.mcm.controlPlane[0].address = '198.51.100.11'), 'clusters.mcm.controlPlane[0].address: 198.51.100.11 is already the address of managementHosts[0].address'],
  ['a gateway outside its network', (e) => (e.networks[1].gateway = '192.0.3.1'), 'networks[1].gateway: 192.0.3.1 is outside its network 192.0.2.0/24'],
  ['an API address inside the pod network', (e) => (e.clusters['osdc-a'].apiAddress = '10.46.0.5'), 'clusters.osdc-a.apiAddress: 10.46.0.5 is inside podCidr 10.46.0.0/16'],
  ['an API address inside the service network', (e) => (e.clusters.mcm.apiAddress = '10.43.7.1'), 'clusters.mcm.apiAddress: 10.43.7.1 is inside serviceCidr 10.43.0.0/16'],
  ['a node inside its pod network', (e) => (e.clusters.osms.podCidr = '192.0.2.32/27'), 'clusters.osms.controlPlane[1].address: 192.0.2.32 is inside podCidr 192.0.2.32/27'],
  ['pod networks that overlap between clusters', (e) => (e.clusters['osdc-a'].podCidr = '10.44.128.0/17'), 'clusters.osdc-a.podCidr: 10.44.128.0/17 overlaps clusters.osms.podCidr 10.44.0.0/16'],
  ['a service network over another cluster\'s pods', (e) => (e.clusters['osdc-a'].serviceCidr = '10.0.0.0/8'), 'clusters.osdc-a.serviceCidr: 10.0.0.0/8 overlaps clusters.mcm.podCidr 10.42.0.0/16'],
  ['pod and service networks that overlap in one cluster', (e) => (e.clusters.mcm.serviceCidr = '10.42.128.0/17'), 'clusters.mcm.serviceCidr: 10.42.128.0/17 overlaps clusters.mcm.podCidr 10.42.0.0/16'],
  // Clusters are the site's (issue 17): any names that are DNS labels, one management cluster.
  ['a cluster name that is not a DNS label', (e) => (e.clusters.OSDC_C = structuredClone(e.clusters['osdc-b'])), /clusters\.OSDC_C: 'OSDC_C' is not a cluster name \(a DNS label/],
  ['a VLAN bridge without an uplink', (e) => delete e.managementHosts[1].bridges[1].uplink, 'managementHosts[1].bridges[1].uplink: has a vlan and no uplink: name the interface or bond that carries the VLAN (uplink)'],
  ['a firewall VLAN parent that is no interface name', (e) => (e.firewalls[0].vlanParent = 'igb1 up'), 'firewalls[0].vlanParent: is not an interface name'],
  ['a firewall rule interface that is no OPNsense identifier', (e) => (e.firewalls[0].ruleInterface = 'LAN!'), 'firewalls[0].ruleInterface: is not an OPNsense interface identifier'],
  ['a firewall whose list of rule interfaces is empty', (e) => (e.firewalls[0].ruleInterface = []), 'firewalls[0].ruleInterface: names no interface: give one (lan) or several'],
  ['a firewall rule interface in a list that is no OPNsense identifier', (e) => (e.firewalls[0].ruleInterface = ['lan', 'opt 2']), 'firewalls[0].ruleInterface[1]: is not an OPNsense interface identifier'],
  ['an uplink that is no interface name', (e) => (e.managementHosts[0].bridges[0].uplink = 'eno1; reboot'), 'managementHosts[0].bridges[0].uplink: is not an interface name'],
  ['a kernel-wide setting mode that does not exist', (e) => (e.site.kernelWideSettings = 'maybe'), /site\.kernelWideSettings: .*"apply"\|"skip"|site\.kernelWideSettings: .*apply.*skip/],
  ['a second management cluster', (e) => (e.clusters['osdc-b'].role = 'mcm'), "clusters.osdc-b.role: 'mcm' is already the role of cluster mcm: a site has one management cluster"],
  ['an unknown role', (e) => (e.clusters['osdc-b'].role = 'data'), "clusters.osdc-b.role: 'data' is not a role: use one of mcm, osms, osdc"],
  ['a cluster without a role', (e) => delete e.clusters['osdc-b'].role, 'clusters.osdc-b.role: is missing: use one of mcm, osms, osdc'],
  ['no management cluster', (e) => delete e.clusters.mcm, "clusters: has no management cluster: declare one cluster with role 'mcm'"],
  ['a management cluster that is not RKE2', (e) => (e.clusters.mcm.distribution = 'kubeadm'), "clusters.mcm.distribution: the management cluster runs 'rke2'"],
  ['a label key Kubernetes refuses', (e) => (e.clusters['osdc-a'].workers[0].labels = { 'openspace.io/pool!': 'data' }), /clusters\.osdc-a\.workers\[0\]\.labels(\.| \()?.*'openspace\.io\/pool!' is not a label key/],
  ['a label value Kubernetes refuses', (e) => (e.clusters['osdc-a'].workers[0].labels = { 'openspace.io/pool': 'data plane' }), /clusters\.osdc-a\.workers\[0\]\.labels.*'data plane' is not a label value/],
  ['a topology label, which is Onboarder\'s', (e) => (e.clusters['osdc-a'].workers[0].labels = { 'topology.kubernetes.io/zone': 'a' }), /topology\.kubernetes\.io\/ labels are Onboarder's/],
  ['a taint with an unknown effect', (e) => (e.clusters['osdc-a'].workers[0].taints = [{ key: 'dedicated', effect: 'NoRun' }]), /clusters\.osdc-a\.workers\[0\]\.taints\[0\]\.effect/],
  ['the same taint twice', (e) => (e.clusters['osdc-a'].workers[0].taints = [{ key: 'dedicated', value: 'a', effect: 'NoSchedule' }, { key: 'dedicated', value: 'b', effect: 'NoSchedule' }]), 'clusters.osdc-a.workers[0].taints: has the same key and effect twice'],
  // An API address is the first control-plane node's or a free address on its network (kube-vip's ARP).
  ['an API address that is a worker\'s', (e) => (e.clusters['osdc-a'].apiAddress = '192.0.2.44'), 'clusters.osdc-a.apiAddress: 192.0.2.44 is already the address of clusters.osdc-a.workers[0].address: a virtual IP is an address no machine has'],
  ['two clusters with one API address', (e) => (e.clusters['osdc-b'].apiAddress = '192.0.2.40'), 'clusters.osdc-b.apiAddress: 192.0.2.40 is already the API address of cluster osdc-a: each cluster has its own'],
  ['an API address on the second control-plane node', (e) => (e.clusters.osms.apiAddress = '192.0.2.32'), "clusters.osms.apiAddress: 192.0.2.32 is the address of controlPlane[1] (osms-cp2): use the first control-plane node's address, or a free address for a virtual IP"],
  ['several control-plane nodes behind the first one\'s address (no virtual IP)', (e) => (e.clusters['osdc-b'].apiAddress = '203.0.113.51'), "clusters.osdc-b.apiAddress: 203.0.113.51 is the first control-plane node's address, and the cluster has 3: its API (and every kubelet and client) would stop with that node"],
  ['a virtual IP off its control plane\'s network', (e) => (e.clusters.mcm.apiAddress = '198.51.100.200'), 'clusters.mcm.apiAddress: 198.51.100.200 is outside network clusters (192.0.2.0/24) of its control-plane nodes: kube-vip answers for a virtual IP by ARP, on their network'],
  ['a virtual IP that is the gateway', (e) => (e.clusters.mcm.apiAddress = '192.0.2.1'), 'clusters.mcm.apiAddress: 192.0.2.1 is the gateway of network clusters'],
  // DNS records are written into dnsmasq's files: names and values are names and addresses, nothing else.
  ['an A record whose value is no address', (e) => (e.dns.records[0].value = 'registry-host'), "dns.records[0].value: 'registry-host' is not an IPv4 address (an A record's value)"],
  ['a CNAME whose target would be a line of dnsmasq configuration', (e) => e.dns.records.push({ name: 'mirror', type: 'CNAME', value: 'registry.example.openspace.test\naddress=/#/203.0.113.9' }), "dns.records[1].value: 'registry.example.openspace.test\\naddress=/#/203.0.113.9' is not a full DNS name"],
  ['a CNAME to a bare label', (e) => e.dns.records.push({ name: 'mirror', type: 'CNAME', value: 'registry' }), "dns.records[1].value: 'registry' is not a full DNS name (a CNAME's target, the zone included: registry.<zone>)"],
  ['a record name with a space', (e) => (e.dns.records[0].name = 'my registry'), "dns.records[0].name: 'my registry' is not a name in the zone"],
  ['a record name with the zone written twice (a trailing dot)', (e) => (e.dns.records[0].name = 'registry.'), "dns.records[0].name: 'registry.' is not a name in the zone"],
  ['a record that takes a node\'s name', (e) => e.dns.records.push({ name: 'osdc-a-w1', type: 'A', value: '192.0.2.99' }), "dns.records[1].name: 'osdc-a-w1' is the name of clusters.osdc-a.workers[0], whose record Onboarder makes: use another name"],
  ['a record that takes a cluster\'s API name', (e) => e.dns.records.push({ name: 'api.mcm', type: 'A', value: '192.0.2.99' }), "dns.records[1].name: 'api.mcm' is the API name of cluster mcm, whose record Onboarder makes"],
  ['a CNAME beside another record of its name', (e) => e.dns.records.push({ name: 'registry', type: 'CNAME', value: 'kvm1.example.openspace.test' }), "dns.records[1].name: 'registry' is also dns.records[0]: a name with a CNAME has no other record"],
  ['Canal on a kubeadm cluster (it would have no pod network)', (e) => (e.clusters['osdc-a'].cni = 'canal'), "clusters.osdc-a.cni: 'canal' is RKE2's own pod network, which a kubeadm cluster does not have: use 'cilium'"],
  // The nodes resolve through the site's DNS, which forwards what is outside its zone.
  ['a connected site whose DNS forwards nowhere', (e) => (e.dns.forwarders = []), "dns.forwarders: is empty on a connected site: the nodes resolve through the site's DNS, which would then know no name outside its zone"],
  ['a DNS server that forwards to itself', (e) => (e.dns.forwarders = ['198.51.100.12']), "dns.forwarders[0]: 198.51.100.12 is the site's DNS server kvm2 itself: forward to another resolver"],
  ['both dns.server and dns.servers', (e) => (e.dns.server = e.dns.servers[0]), 'dns: names its servers with server (one) or servers (a list): give one of them'],
  ['neither dns.server nor dns.servers', (e) => delete e.dns.servers, 'dns: names its servers with server (one) or servers (a list): give one of them'],
  ['four DNS servers', (e) => e.dns.servers.push({ name: 'kvm3', address: '198.51.100.13' }, { name: 'kvm4', address: '198.51.100.14' }), "dns.servers: has more than 3 servers: a node's resolver asks the first 3 only (glibc)"],
  ['a DNS server listed twice', (e) => e.dns.servers.push({ name: 'kvm3', address: '198.51.100.11' }), 'dns.servers[2]: is dns.servers[0] again: name each server once'],
  ['a forwarder that is a name', (e) => (e.dns.forwarders = ['dns.google']), "dns.forwarders[0]: 'dns.google' is not an IPv4 address"],
  // Proxmox VMs get their addresses on the clusters network: it exists, and holds them.
  ['Proxmox VMs without a network', (e) => (e.networks = []), "networks: has no network for the VMs (infrastructure 'proxmox'): add the one their addresses are on"],
  ['a node on none of the networks', (e) => (e.clusters.osms.workers[2].address = '100.64.0.7'), "clusters.osms.workers[2].address: 100.64.0.7 is on none of the site's networks, whose VLAN, gateway and prefix a VM gets"],
  ['VMs on two networks through a bridge that carries one untagged', (e) => (e.proxmox.vmBridge = { tagVlan: false }), 'proxmox.vmBridge.tagVlan: is false (the bridge carries one network untagged), and the VMs are on 2 networks (clusters, data)'],
  ['an empty secret file', (e) => (e.proxmox.token = { file: 'test/fixtures/empty-secret' }), 'proxmox.token: secret file test/fixtures/empty-secret is empty'],
  // The site's proxy: a URL the nodes' programs take, never credentials written in the file.
  ['a proxy with its password in the file', (e) => (e.proxy = { http: 'http://onboarder:pa55word@proxy.corp.example:3128' }), 'proxy.http: holds credentials: give the whole URL as a secret reference ({ file } or { env }), so that it is redacted from output and logs'],
  ['a SOCKS proxy', (e) => (e.proxy = { http: 'socks5://proxy.corp.example:1080' }), 'proxy.http: is a socks5 URL: give the proxy as http://host:port (or https://)'],
  ['a proxy with a path', (e) => (e.proxy = { http: 'http://proxy.corp.example:3128/proxy.pac' }), 'proxy.http: has a path: give the proxy as http://host:port, with nothing after the port'],
  ['a proxy that is not a URL', (e) => (e.proxy = { http: 'proxy.corp.example:3128' }), 'proxy.http: is not a URL: give the proxy as http://host:port'],
  ['a direct destination with a comma', (e) => (e.proxy = { http: 'http://proxy.corp.example:3128', noProxy: ['a.corp,b.corp'] }), "proxy.noProxy[0]: 'a.corp,b.corp' is not a host name, a domain (.example.com), an address or a CIDR"],
  // Every image comes through the site registry or a mirror there: a registry with neither fails only at the site.
  ['an air-gapped site without a site registry, mirroring docker.io alone', (e) => ((e.site.airGapped = true), (e.dns.forwarders = [])), "registryMirrors: has no mirror for ghcr.io, quay.io, registry.k8s.io, where the clusters' images come from, and this air-gapped site names no siteRegistry: name one (bundle:load fills it, and every registry is pulled from it), or a registryMirrors entry for each"],
  ['a proxy on an air-gapped site', (e) => ((e.site.airGapped = true), (e.dns.forwarders = []), (e.proxy = { http: 'http://proxy.corp.example:3128' })), 'proxy: is set on an air-gapped site, which reaches nothing outside: remove it, or set site.airGapped to false'],
  ['a proxy with a machine on none of the networks', (e) => ((e.infrastructure = 'existing'), (e.networks = e.networks.slice(0, 1)), (e.proxy = { http: 'http://proxy.corp.example:3128' })), "clusters.mcm.controlPlane[0].address: 192.0.2.21 is on none of the site's networks, which the nodes reach directly, not through the proxy: declare the network it is on in networks"],
];

test('the management hosts may be the Proxmox nodes (KVM hosts running Proxmox VE): one machine in two roles', () => {
  const loaded = loadEnvironment('example', broken((e) => ((e.proxmox.nodes = e.managementHosts.map((host: { name: string; address: string }) => ({ name: host.name, address: host.address }))), (e.proxmox.apiUrl = 'https://198.51.100.11:8006/api2/json'))), repositoryRoot);
  assert.ok(loaded.ok, loaded.ok ? '' : renderFailure(loaded.error));
  assert.match(errorOf(broken((e) => (e.proxmox.nodes[0].address = e.clusters.osms.workers[0].address))), 'clusters.osms.workers[0].address: 192.0.2.34 is already the address of proxmox.nodes[0].address');
});

test("a site that logs in as another user than root: its management hosts are logged in to as ssh.user unless one names its own, a DNS server as the management host at its address; Proxmox nodes as root", () => {
  const loaded = loadEnvironment('example', broken((e) => ((e.ssh.user = 'deploy'), (e.managementHosts[1].user = 'admin'))), repositoryRoot);
  if (!loaded.ok) throw new Error(renderFailure(loaded.error));
  const { config } = loaded.value;
  assert.equal(config.managementHosts.map((host) => host.user), ['deploy', 'admin', 'deploy']);
  assert.equal(config.dns.servers.map((server) => server.user), ['deploy', 'admin'], 'kvm2 is logged in to as its management host is');
  assert.ok(config.proxmox!.nodes.every((node) => node.user === 'root'), "Proxmox's qm and pveum are root's");
});

test('one DNS server as dns.server, as environments written before dns.servers have it', () => {
  const loaded = loadEnvironment('example', broken((e) => ((e.dns.server = e.dns.servers[0]), delete e.dns.servers)), repositoryRoot);
  if (!loaded.ok) throw new Error(renderFailure(loaded.error));
  assert.equal(loaded.value.config.dns.servers, [{ name: 'kvm1', address: '198.51.100.11', port: 22, user: 'root' }]);
  assert.not.ok('server' in loaded.value.config.dns);
});

test("the site's proxy: a secret URL is redacted whole and its password alone; the nodes reach the site's own networks and names directly", () => {
  const plain = loadEnvironment('example', broken((e) => (e.proxy = { http: 'http://proxy.corp.example:3128', noProxy: ['.corp.example', '100.64.0.0/10'] })), repositoryRoot);
  if (!plain.ok) throw new Error(renderFailure(plain.error));
  const cluster = clusterOf(plain.value.config, 'osdc-a');
  assert.equal(directDestinations(plain.value.config, cluster), ['localhost', '127.0.0.1', '198.51.100.0/24', '192.0.2.0/24', '203.0.113.0/24', '10.46.0.0/16', '10.47.0.0/16', 'example.openspace.test', '.svc', '.cluster.local', '.corp.example', '100.64.0.0/10']);
  const contextOf = (config: unknown) => ({ config, root: repositoryRoot, secret: (value: string) => value }) as never;
  const environment = proxyEnvironment(contextOf(plain.value.config), cluster);
  assert.equal([environment.HTTP_PROXY, environment.HTTPS_PROXY, environment.https_proxy], ['http://proxy.corp.example:3128/', 'http://proxy.corp.example:3128/', 'http://proxy.corp.example:3128/'], 'https is http where it is not given');
  assert.is(environment.NO_PROXY, environment.no_proxy);
  // No proxy: nothing, and nothing but proxy read (a node-prep re-runs for no other change).
  const none = loadEnvironment('example', example, repositoryRoot);
  if (!none.ok) throw new Error(renderFailure(none.error));
  const looking = new ConfigReadRecorder();
  assert.equal(proxyEnvironment(contextOf(looking.track(none.value.config)), cluster), {});
  assert.equal(Object.keys(looking.reads(none.value.config)), ['["proxy"]']);

  process.env.ONBOARDER_TEST_PROXY_URL = 'http://onboarder:s3cret%22pw@proxy.corp.example:3128';
  try {
    const secret = loadEnvironment('example', broken((e) => (e.proxy = { http: 'http://proxy.corp.example:3128', https: { env: 'ONBOARDER_TEST_PROXY_URL' } })), repositoryRoot);
    if (!secret.ok) throw new Error(renderFailure(secret.error));
    assert.ok(secret.value.secrets.includes('http://onboarder:s3cret%22pw@proxy.corp.example:3128'));
    assert.ok(secret.value.secrets.includes('s3cret"pw'), 'the password alone, decoded');
    assert.match(String(secret.value.config.secretDigests?.proxy?.https), /^[0-9a-f]{32}$/);
    const redacted: string[] = [];
    const withSecret = proxyEnvironment({ config: secret.value.config, root: repositoryRoot, secret: (value: string) => (redacted.push(value), value) } as never, cluster);
    assert.is(withSecret.HTTPS_PROXY, 'http://onboarder:s3cret%22pw@proxy.corp.example:3128/');
    assert.is(withSecret.HTTP_PROXY, 'http://proxy.corp.example:3128/');
    assert.ok(redacted.includes(withSecret.HTTPS_PROXY!), 'the URL as the nodes get it is redacted');
    process.env.ONBOARDER_TEST_PROXY_URL = 'proxy.corp.example:3128';
    assert.match(errorOf(broken((e) => (e.proxy = { http: { env: 'ONBOARDER_TEST_PROXY_URL' } }))), /^environment example: proxy\.http: the secret is not a URL: give the proxy as http:\/\/host:port/);
  } finally {
    delete process.env.ONBOARDER_TEST_PROXY_URL;
  }
});

test("the site CA is a CA, with its own key: cert-manager's issuer would sign nothing otherwise", () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'onboarder-site-ca-'));
  try {
    const make = (name: string, constraints: string) =>
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${name}`, '-addext', `basicConstraints=critical,${constraints}`], { cwd: directory, stdio: 'ignore' });
    make('ca', 'CA:TRUE');
    make('leaf', 'CA:FALSE');
    make('other', 'CA:TRUE');
    const withCa = (certificate: string, key: string) => broken((e) => (e.siteCa = { certificate: path.join(directory, certificate), key: { file: path.join(directory, key) } }));
    const loaded = loadEnvironment('example', withCa('ca.pem', 'ca.key'), repositoryRoot);
    assert.ok(loaded.ok, loaded.ok ? '' : renderFailure(loaded.error));
    if (loaded.ok) {
      assert.match(String(loaded.value.config.secretDigests?.siteCa?.certificate), /^[0-9a-f]{64}$/);
      assert.match(String(loaded.value.config.secretDigests?.siteCa?.key), /^[0-9a-f]{32}$/);
      assert.ok(loaded.value.secrets.some((secret) => secret.includes('PRIVATE KEY')), 'the key is redacted');
    }
    assert.match(errorOf(withCa('leaf.pem', 'leaf.key')), /siteCa\.certificate: \S+leaf\.pem \(CN=leaf\) is not a CA certificate \(basic constraints CA:FALSE\): it cannot sign others/);
    assert.match(errorOf(withCa('ca.pem', 'other.key')), /siteCa\.key: is not the private key of \S+ca\.pem/);
    assert.match(errorOf(withCa('missing.pem', 'ca.key')), /siteCa\.certificate: \S+missing\.pem cannot be read/);
    assert.match(errorOf(withCa('ca.key', 'ca.key')), /siteCa\.certificate: \S+ca\.key is not a PEM certificate/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("every CA file the environment names is read when it loads: one that is missing, not a certificate or expired is named with its path, before anything runs", () => {
  const directory = mkdtempSync(path.join(tmpdir(), 'onboarder-ca-files-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=corp CA'], { cwd: directory, stdio: 'ignore' });
    // A CA that expired in 2021 (OpenSSL 3.0's req takes no start date; python3-cryptography comes with Ansible).
    const expired = [
      'import datetime, sys',
      'from cryptography import x509',
      'from cryptography.hazmat.primitives import hashes, serialization',
      'from cryptography.hazmat.primitives.asymmetric import ec',
      'key = ec.generate_private_key(ec.SECP256R1())',
      "name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, 'old CA')])",
      'when = datetime.datetime(2020, 1, 1)',
      'builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)',
      'certificate = builder.not_valid_before(when).not_valid_after(when + datetime.timedelta(days=365)).sign(key, hashes.SHA256())',
      'sys.stdout.buffer.write(certificate.public_bytes(serialization.Encoding.PEM))',
    ].join('\n');
    writeFileSync(path.join(directory, 'old.pem'), execFileSync('python3', ['-c', expired]));
    const at = (file: string) => path.join(directory, file);
    const mirror = (caFile: string) => broken((e) => (e.upstreamMirrors = [{ prefix: 'https://', mirror: 'https://nexus.corp.example/remote/', caFile }]));
    const loaded = loadEnvironment('example', mirror(at('ca.pem')), repositoryRoot);
    assert.ok(loaded.ok, loaded.ok ? '' : renderFailure(loaded.error));
    assert.match(errorOf(mirror(at('missing.pem'))), /^environment example: upstreamMirrors\[0\]\.caFile: \S+missing\.pem cannot be read/);
    assert.match(errorOf(mirror(at('ca.key'))), /upstreamMirrors\[0\]\.caFile: \S+ca\.key is not a PEM certificate/);
    assert.match(errorOf(mirror(at('old.pem'))), /upstreamMirrors\[0\]\.caFile: \S+old\.pem \(CN=old CA\) expired on /);
    assert.match(errorOf(broken((e) => (e.siteRegistry = { address: 'registry.corp.example:5000', caFile: at('missing.pem') }))), /siteRegistry\.caFile: \S+missing\.pem cannot be read/);
    // Both ways of trusting a mirror, or a CA for plain HTTP, is a mistake in the file.
    assert.match(errorOf(broken((e) => (e.upstreamMirrors = [{ prefix: 'https://', mirror: 'https://nexus.corp.example/', caFile: at('ca.pem'), insecure: true }]))), /upstreamMirrors\[0\]\.insecure: has both caFile and insecure/);
    assert.match(errorOf(broken((e) => (e.upstreamMirrors = [{ prefix: 'https://', mirror: 'http://nexus.corp.example/', caFile: at('ca.pem') }]))), /upstreamMirrors\[0\]\.caFile: has a caFile for a plain-HTTP mirror/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('several clusters of a role, in any number, with the names the site gives them', () => {
  const definition = broken((e) => {
    e.clusters['osdc-c'] = { ...structuredClone(e.clusters['osdc-b']), apiAddress: '192.0.2.60', podCidr: '10.50.0.0/16', serviceCidr: '10.51.0.0/16' };
    e.clusters['osdc-c'].controlPlane = [{ name: 'osdc-c-cp1', address: '192.0.2.61', vmId: 6101 }];
    e.clusters['osdc-c'].workers = [];
    e.clusters['osms-2'] = { role: 'osms', distribution: 'kubeadm', controlPlane: [{ name: 'osms-2-cp1', address: '192.0.2.71', vmId: 7101 }], apiAddress: '192.0.2.70', podCidr: '10.52.0.0/16', serviceCidr: '10.53.0.0/16' };
  });
  const loaded = loadEnvironment('example', definition, repositoryRoot);
  assert.ok(loaded.ok, loaded.ok ? '' : renderFailure(loaded.error));
  const roles = loaded.ok ? Object.entries(loaded.value.config.clusters).map(([name, cluster]) => `${name}:${cluster.role}`) : [];
  assert.equal(roles, ['mcm:mcm', 'osms:osms', 'osdc-a:osdc', 'osdc-b:osdc', 'osdc-c:osdc', 'osms-2:osms']);
});

test("the proxmox-api pool's capacity is the site's: 4 on Ceph RBD, 2 where full clones hold the storage lock, parallelOperations when set", () => {
  const capacities = (change: (environment: any) => void) => {
    const loaded = loadEnvironment('example', broken(change), repositoryRoot);
    if (!loaded.ok) throw new Error(renderFailure(loaded.error));
    return poolCapacities(pools, loaded.value.config);
  };
  assert.equal(capacities(() => undefined), { 'proxmox-api': 4, 'opnsense-api': 1 });
  assert.is(capacities((e) => (e.proxmox.storage.type = 'lvm-thin'))['proxmox-api'], 2);
  assert.is(capacities((e) => (e.proxmox.storage.type = 'dir'))['proxmox-api'], 2);
  assert.is(capacities((e) => (e.proxmox.parallelOperations = 1))['proxmox-api'], 1);
  assert.match(errorOf(broken((e) => (e.proxmox.parallelOperations = 0))), 'proxmox.parallelOperations');
  // A project's own capacity function that answers nonsense counts as 1, never as no limit.
  assert.equal(poolCapacities({ a: () => 0, b: () => Number.NaN, c: 3 }, {}), { a: 1, b: 1, c: 3 });
});

test("a roll's width is read by the steps that roll only: clusterOf and clustersOf do not read workersAtOnce", () => {
  const loaded = loadEnvironment('example', example, repositoryRoot);
  if (!loaded.ok) throw new Error(renderFailure(loaded.error));
  const looking = new ConfigReadRecorder();
  const cluster = clusterOf(looking.track(loaded.value.config), 'osdc-a');
  void clustersOf(looking.track(loaded.value.config));
  assert.is(cluster.apiAddress, '192.0.2.40');
  assert.not.ok(Object.keys(looking.reads(loaded.value.config)).some((path) => path.includes('workersAtOnce')));
  const rolling = new ConfigReadRecorder();
  assert.is(rollWidth(rolling.track(loaded.value.config), 'osdc-a'), '20%');
  assert.ok(Object.keys(rolling.reads(loaded.value.config)).some((path) => path.includes('workersAtOnce')));
  // How a roll drains is read by none: a change re-runs no step, the next roll drains so.
  const draining = new ConfigReadRecorder();
  assert.is(drainPolicy(draining.track(loaded.value.config), 'osdc-a').attempts, 3);
  assert.not.ok('drain' in cluster, 'a cluster as the steps see it has no drain settings');
  assert.equal(Object.keys(draining.reads(loaded.value.config)), []);
});

test('a step records the cluster and node settings it reads, no others: a setting added beside them (dnsAutoscaler off) or a VM resized re-runs no step that did not read it', () => {
  const loaded = loadEnvironment('example', example, repositoryRoot);
  if (!loaded.ok) throw new Error(renderFailure(loaded.error));
  const config = loaded.value.config;
  // What a playbook step on the control plane reads: the cluster's address and its nodes as an inventory takes them.
  const looking = new ConfigReadRecorder();
  const tracked = looking.track(config);
  const cluster = clusterOf(tracked, 'osdc-a');
  assert.is(cluster.name, 'osdc-a');
  assert.is(cluster.apiAddress, '192.0.2.40');
  assert.equal(cluster.controlPlane.map(inventoryNode)[0], { name: 'osdc-a-cp1', address: config.clusters['osdc-a']!.controlPlane[0]!.address });
  const prepared = nodeOf(tracked, 'osdc-a-w1');
  assert.is(prepared.node.name, 'osdc-a-w1');
  const reads = looking.reads(config);
  assert.not.ok(Object.keys(reads).some((path) => path.endsWith('#keys')), `no set of keys read: ${Object.keys(reads).join(' ')}`);
  const changed = structuredClone(config);
  changed.clusters['osdc-a']!.dnsAutoscaler = false;
  changed.clusters['osdc-a']!.controlPlane[0]!.cores = 16;
  changed.clusters['osdc-a']!.workers[0]!.proxmoxNode = 'pve2';
  assert.equal(replayReads(changed, reads), reads, 'nothing the step read changed');
  const moved = structuredClone(config);
  moved.clusters['osdc-a']!.apiAddress = '192.0.2.41';
  assert.not.equal(replayReads(moved, reads), reads);
  // A view lists the settings the schema can hold and copies as the cluster does; it cannot be written.
  assert.ok(Object.keys(cluster).includes('dnsAutoscaler') && !Object.keys(cluster).includes('workersAtOnce'));
  assert.is({ ...cluster }.podCidr, config.clusters['osdc-a']!.podCidr);
  assert.throws(() => ((cluster as { apiAddress: string }).apiAddress = '192.0.2.99'));
  // What the step that reads the new setting sees: the setting, which its stamp records.
  const autoscaling = new ConfigReadRecorder();
  assert.is(clusterOf(autoscaling.track(changed), 'osdc-a').dnsAutoscaler, false);
  assert.not.equal(replayReads(config, autoscaling.reads(changed)), autoscaling.reads(changed));
});

test("a roll's width in workers: a count as it is, a percentage rounded down as Ansible's serial, never none, never more than there are", () => {
  assert.equal([workersAtOnce(2, 10), workersAtOnce('20%', 10), workersAtOnce('20%', 4), workersAtOnce('50%', 5), workersAtOnce(5, 3), workersAtOnce('100%', 0)], [2, 2, 1, 2, 3, 1]);
});

test('a control plane of an even number of nodes loads with a warning: its etcd survives no more losses than one node fewer', () => {
  const loaded = loadEnvironment('example', broken((e) => e.clusters['osdc-a'].controlPlane.pop()), repositoryRoot);
  assert.ok(loaded.ok);
  assert.equal(loaded.ok && loaded.value.warnings, ['environment example: clusters.osdc-a.controlPlane has 2 nodes: etcd needs 2 of them, so it survives the loss of 0 nodes, as 1 would: use an odd number (1, 3 or 5); an even one is fine while a node is replaced']);
  const bundled = loadEnvironment('example', example, repositoryRoot);
  assert.ok(bundled.ok && bundled.value.warnings === undefined, 'three control-plane nodes: no warning');
});

test('a secret too short to be redacted loads with a warning that says so', () => {
  process.env.ONBOARDER_TEST_SHORT_TOKEN = 'abc';
  try {
    const loaded = loadEnvironment('example', broken((e) => (e.proxmox.token = { env: 'ONBOARDER_TEST_SHORT_TOKEN' })), repositoryRoot);
    assert.ok(loaded.ok);
    assert.equal(loaded.ok && loaded.value.warnings, ['environment example: proxmox.token is shorter than 4 characters: it is not redacted from output and logs (a real secret is longer)']);
  } finally {
    delete process.env.ONBOARDER_TEST_SHORT_TOKEN;
  }
});

test("state in PostgreSQL: the URL is a secret (redacted whole and its password alone), read only with the secrets", () => {
  const shared = broken((e) => (e.state = { store: 'postgres', url: { env: 'ONBOARDER_TEST_STATE_URL' } }));
  const shape = loadEnvironment('example', shared, repositoryRoot, 'configuration');
  assert.equal(shape.ok && shape.value.stateStore, { kind: 'postgres' });
  assert.match(errorOf(shared), "environment example: state.url: environment variable ONBOARDER_TEST_STATE_URL is not set");
  process.env.ONBOARDER_TEST_STATE_URL = 'postgresql://team:s3cret-pw%40x@db.example.test:5432/onboarder';
  try {
    const loaded = loadEnvironment('example', shared, repositoryRoot);
    assert.ok(loaded.ok);
    assert.equal(loaded.ok && loaded.value.stateStore, { kind: 'postgres', url: process.env.ONBOARDER_TEST_STATE_URL });
    assert.ok(loaded.ok && loaded.value.secrets.includes(process.env.ONBOARDER_TEST_STATE_URL) && loaded.value.secrets.includes('s3cret-pw@x'));
  } finally {
    delete process.env.ONBOARDER_TEST_STATE_URL;
  }
  assert.match(errorOf(broken((e) => (e.state = { store: 'sqlite' }))), 'state.store');
  assert.equal(loadEnvironment('example', example, repositoryRoot, 'configuration').ok && 'stateStore' in (loadEnvironment('example', example, repositoryRoot, 'configuration') as { value: object }).value, false, 'files by default');
});

test("the site registry's password: redacted, and a digest of it (never it) in the configuration the steps that deploy it read; another password, another digest", () => {
  const withRegistry = (password: string) => {
    process.env.ONBOARDER_TEST_REGISTRY_PASSWORD = password;
    try {
      const loaded = loadEnvironment('example', broken((e) => (e.siteRegistry = { address: 'registry.example.test:5000', username: 'loader', password: { env: 'ONBOARDER_TEST_REGISTRY_PASSWORD' } })), repositoryRoot);
      assert.ok(loaded.ok, loaded.ok ? '' : renderFailure(loaded.error));
      return loaded.ok ? loaded.value : undefined;
    } finally {
      delete process.env.ONBOARDER_TEST_REGISTRY_PASSWORD;
    }
  };
  const first = withRegistry('registry-pw-first');
  const again = withRegistry('registry-pw-first');
  const rotated = withRegistry('registry-pw-second');
  const digest = first?.config.secretDigests?.siteRegistry?.password;
  assert.match(digest ?? '', /^[0-9a-f]{32}$/);
  assert.is(again?.config.secretDigests?.siteRegistry?.password, digest, 'the same password, the same digest');
  assert.is.not(rotated?.config.secretDigests?.siteRegistry?.password, digest);
  assert.ok(first?.secrets.includes('registry-pw-first'), 'redacted from the start');
  assert.not.match(JSON.stringify(first?.config), 'registry-pw-first');
  const shape = loadEnvironment('example', example, repositoryRoot, 'configuration');
  assert.is(shape.ok && shape.value.config.secretDigests, undefined, 'no secret is read for the graph alone');
});

for (const [name, change, expected] of cases) {
  test(`refused with its path: ${name}`, () => {
    const message = errorOf(broken(change));
    assert.match(message, expected);
    assert.not.match(message, '\n', 'one line');
  });
}

test.run();
