import { isIPv4 } from 'node:net';
import { z } from 'zod';
import { kubeadmImageTags } from '../images/kubeadm-images.js';
import { imageRegistries } from '../images/manifest.js';
import { drainSettings } from './drain-settings.js';
import { kubeletSettings, reservationProblem } from './kubelet-settings.js';

const ipv4 = z.string().refine((value) => isIPv4(value), { error: (issue) => `'${String(issue.input)}' is not an IPv4 address` });
const cidr = z.string().refine((value) => {
  const [address, bits] = value.split('/');
  return isIPv4(address ?? '') && /^\d+$/.test(bits ?? '') && Number(bits) <= 32;
}, { error: (issue) => `'${String(issue.input)}' is not an IPv4 CIDR (a.b.c.d/n)` });
/** A host name as a node carries it (one DNS label): what a kubelet's serving certificate may name too. */
export const hostnamePattern = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const hostname = z.string().regex(hostnamePattern, { error: (issue) => `'${String(issue.input)}' is not a valid host name` });
const domain = z.string().regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, { error: (issue) => `'${String(issue.input)}' is not a DNS domain` });
const version = z.string().regex(/^v?\d+\.\d+(\.\d+)?([+-][\w.+-]+)?$/, { error: (issue) => `'${String(issue.input)}' is not a version (e.g. v1.30.4)` });
const vmId = z.number().int().min(100).max(999_999_999);

/** A secret is never a value in the config: it names an environment variable or a file to read it from. */
export const secretReference = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'environment variable names are UPPER_CASE' }) }),
  z.strictObject({ file: z.string().min(1) }),
], { error: "is a secret reference: { env: 'VARIABLE' } or { file: 'path/to/file' }, never the secret itself" });
export type SecretReference = z.infer<typeof secretReference>;

/**
 * What is wrong with a proxy's URL, or undefined: it is http:// or https://, names a host, and has no path.
 * `secret`: the URL came from a secret reference, where credentials belong; in the file it may hold none.
 */
export function proxyUrlProblem(value: string, secret: boolean): string | undefined {
  let url: URL;
  try {
    // host:port alone would parse as a URL of the scheme `host`.
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw new Error();
    url = new URL(value);
  } catch {
    return 'is not a URL: give the proxy as http://host:port';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `is a ${url.protocol.slice(0, -1)} URL: give the proxy as http://host:port (or https://)`;
  if (!url.hostname) return 'names no host: give the proxy as http://host:port';
  if (url.pathname !== '/' || url.search || url.hash) return 'has a path: give the proxy as http://host:port, with nothing after the port';
  if (!secret && (url.username || url.password)) return 'holds credentials: give the whole URL as a secret reference ({ file } or { env }), so that it is redacted from output and logs';
  return undefined;
}
const proxyUrl = z.union([
  z.string().superRefine((value, context) => {
    const problem = proxyUrlProblem(value, false);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  }),
  secretReference,
]);
/** A NO_PROXY entry as Go and curl read them: a name, a domain with its leading dot, an address or a CIDR. */
const noProxyEntry = z.string().regex(/^(\.?[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?|\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?)$/, {
  error: (issue) => `'${String(issue.input)}' is not a host name, a domain (.example.com), an address or a CIDR`,
});

/** A machine Onboarder logs in to; `user` is `ssh.user` where not given (filled in once the environment is read). */
const sshEndpoint = z.strictObject({
  name: hostname,
  address: ipv4,
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1).optional(),
});

/** A label or taint key as Kubernetes takes it: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
const labelKey = z
  .string()
  .regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, {
    error: (issue) => `'${String(issue.input)}' is not a label key (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
  })
  .refine((key) => !key.startsWith('topology.kubernetes.io/'), { error: (issue) => `'${String(issue.input)}': topology.kubernetes.io/ labels are Onboarder's (the storage driver's region and zone): use another key` });
const labelValue = z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, {
  error: (issue) => `'${String(issue.input)}' is not a label value (empty, or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)`,
});
const taint = z.strictObject({ key: labelKey, value: labelValue.optional(), effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']) });

const node = z.strictObject({
  name: hostname,
  address: ipv4,
  vmId,
  cores: z.number().int().min(1).default(4),
  memoryMiB: z.number().int().min(1024).default(8192),
  diskGiB: z.number().int().min(10).default(60),
  /**
   * The Proxmox node its VM runs on (a name of `proxmox.nodes`). Without it, the VM id decides (`vmId` modulo
   * the number of Proxmox nodes), which moves most VMs when a Proxmox node is added or taken out: pin the
   * existing ones first (cluster-vms refuses a plan that would re-create a VM, and names them).
   */
  proxmoxNode: hostname.optional(),
  /** Labels of the node's Node object (node-labels keeps them as declared: one taken out here is removed there). */
  labels: z.record(labelKey, labelValue).default({}),
  /** Taints of the node's Node object (kept as declared too), e.g. `{ key: 'openspace.io/dedicated', value: 'data', effect: 'NoSchedule' }`. */
  taints: z
    .array(taint)
    .default([])
    .refine((taints) => new Set(taints.map((entry) => `${entry.key}:${entry.effect}`)).size === taints.length, { error: 'has the same key and effect twice: a node has one taint per key and effect' }),
});

/**
 * What a cluster is for: `mcm`, the management cluster (RKE2, exactly one per site); `osms`, a
 * management-plane cluster; `osdc`, a data-plane cluster (zero or more of each of the last two).
 */
export const clusterRoles = ['mcm', 'osms', 'osdc'] as const;
export type ClusterRole = (typeof clusterRoles)[number];

/** An OpenPGP key's fingerprint: 40 hex digits, spaces allowed (as `gpg --fingerprint` groups them); kept upper-case without them. */
const openPgpFingerprint = z
  .string()
  .refine((value) => /^[0-9A-F]{40}$/i.test(value.replace(/ /g, '')), { error: (issue) => `'${String(issue.input)}' is not an OpenPGP key fingerprint: 40 hex digits, as \`gpg --show-keys\` prints it` })
  .transform((value) => value.replace(/ /g, '').toUpperCase());

/** A cluster's name is a DNS label: it names its DNS records (`api.<name>`), its VMs' workspace and its targets. */
export const clusterName = z.string().regex(/^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$/, {
  error: (issue) => `'${String(issue.input)}' is not a cluster name (a DNS label: lower-case letters, digits and '-', starting with a letter, at most 32 characters)`,
});

const cluster = z.strictObject({
  role: z.enum(clusterRoles, { error: (issue) => `${issue.input === undefined ? 'is missing' : `'${String(issue.input)}' is not a role`}: use one of ${clusterRoles.join(', ')}` }),
  distribution: z.enum(['rke2', 'kubeadm']),
  /** The pod network: Cilium (kubeadm clusters install it, without kube-proxy), or RKE2's own Canal on an RKE2 cluster. */
  cni: z.enum(['cilium', 'canal']).default('cilium'),
  controlPlane: z.array(node).min(1, { error: 'a cluster needs at least one control-plane node' }),
  workers: z.array(node).default([]),
  /**
   * The API endpoint: a virtual IP (held by kube-vip on the control-plane nodes) or the first control-plane
   * node's address. Changed on a made kubeadm cluster (one node's address to a virtual IP, to take more
   * control-plane nodes), the kubernetes step moves the cluster's endpoint there.
   */
  apiAddress: ipv4,
  podCidr: cidr,
  serviceCidr: cidr,
  /**
   * How many workers a roll (a version upgrade, OS patches) drains at once: a number, or a percentage of the
   * workers (at least one), as kubespray's upgrade-cluster `serial` (its default, 20%). Control-plane nodes
   * always go one at a time.
   */
  workersAtOnce: z.union([z.number().int().min(1), z.string().regex(/^([1-9]\d?|100)%$/, { error: 'is a whole number of at least 1, or a percentage such as 20%' })]).default('20%'),
  /**
   * How a roll drains each node (environments/drain-settings.ts, kubespray's upgrade defaults): each pod has
   * at most `gracePeriod` (5m) to stop, a drain is given up after `timeout` (6m), `attempts` (3) in all.
   * Read by the rolls alone, as workersAtOnce: a change re-runs no step.
   */
  drain: drainSettings,
  /**
   * The kubelet's resources kept from pods, its graceful shutdown and its kernel settings' protection on every node of the cluster, with
   * kubespray's defaults (environments/kubelet-settings.ts): written to the kubelet's drop-in directory, and
   * the kubelet restarted on a change (its pods keep running).
   */
  kubelet: kubeletSettings,
  /**
   * CoreDNS scaled with the cluster, as kubespray's dns-autoscaler does it (the cluster-proportional-autoscaler
   * in linear mode): a replica per `coresPerReplica` cores or per `nodesPerReplica` nodes, whichever gives
   * more, at least `minReplicas` (by default 2, or 1 on a one-node cluster), never all on one node.
   * kubeadm clusters (RKE2's rke2-coredns chart runs its own); `false`: CoreDNS keeps the replicas it has.
   */
  dnsAutoscaler: z
    .union([
      z.literal(false),
      z.strictObject({
        coresPerReplica: z.number().int().min(1).default(256),
        nodesPerReplica: z.number().int().min(1).default(16),
        minReplicas: z.number().int().min(1).optional(),
      }),
    ], { error: 'is false (no autoscaler), or the settings { coresPerReplica, nodesPerReplica, minReplicas }, each a whole number of at least 1' })
    .optional(),
});

/** The settings a cluster and a node can hold, as their schemas name them (for views that read a setting only when it is read). */
export const clusterSettingNames = Object.keys(cluster.shape) as (keyof z.output<typeof cluster> & string)[];
export const nodeSettingNames = Object.keys(node.shape) as (keyof z.output<typeof node> & string)[];

/** A name in the site's zone, relative to it (`registry`, `grafana.apps.osms`): DNS labels joined by dots. */
const dnsLabel = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const relativeName = new RegExp(`^${dnsLabel}(\\.${dnsLabel})*$`);
/** A CNAME's target: a full name (`registry.example.openspace.test`, an optional final dot). */
const fullName = new RegExp(`^${dnsLabel}(\\.${dnsLabel})+\\.?$`);
/**
 * An extra record of the zone. Its name and value are written into dnsmasq's files, so each is a DNS name or
 * an address and nothing else: a space or a line break in either would be a line of dnsmasq configuration.
 */
const dnsRecord = z
  .strictObject({
    name: z.string().regex(relativeName, { error: (issue) => `'${String(issue.input)}' is not a name in the zone (lower-case DNS labels joined by dots, the zone left out: registry, grafana.apps.osms)` }),
    type: z.enum(['A', 'CNAME']),
    value: z.string().min(1),
  })
  .superRefine((record, context) => {
    if (record.type === 'A' && !isIPv4(record.value)) context.addIssue({ code: 'custom', path: ['value'], message: `'${record.value}' is not an IPv4 address (an A record's value)` });
    if (record.type === 'CNAME' && !fullName.test(record.value)) context.addIssue({ code: 'custom', path: ['value'], message: `'${record.value}' is not a full DNS name (a CNAME's target, the zone included: registry.<zone>)` });
  });

/** An OPNsense interface identifier, as its API names interfaces (lan, wan, opt1, ...). */
const opnsenseInterface = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'is not an OPNsense interface identifier (lan, opt1, ...)');

/** A Linux interface name (at most 15 characters): a NIC such as eno1, or a bond such as bond0. */
const interfaceName = z.string().regex(/^[A-Za-z][\w.-]{0,14}$/, 'is not an interface name (a NIC such as eno1 or a bond such as bond0)');

/**
 * A bridge of a management host. `uplink` is the physical interface or bond it is attached to; with `vlan`
 * the bridge is attached to the uplink's VLAN sub-interface (uplink.vlan, which ifupdown2 creates), as
 * Proxmox's network documentation does it. Without an uplink it is a bridge of the host only.
 */
const bridge = z
  .strictObject({ name: z.string().regex(/^br[\w-]{1,13}$/), uplink: interfaceName.optional(), vlan: z.number().int().min(1).max(4094).optional(), address: cidr.optional() })
  .refine((entry) => entry.vlan === undefined || entry.uplink !== undefined, { message: 'has a vlan and no uplink: name the interface or bond that carries the VLAN (uplink)', path: ['uplink'] });

/** dnsmasq-base: the DNS server is a management host. conntrack, socat, ebtables, ethtool, ipset: kubelet's. */
const defaultPackages = {
  management: ['qemu-kvm', 'libvirt-daemon-system', 'bridge-utils', 'ifupdown2', 'dnsmasq-base', 'python3'],
  nodes: ['conntrack', 'socat', 'ebtables', 'ethtool', 'ipset', 'iptables', 'python3'],
};

const environmentShape = z.strictObject({
    name: hostname,
    site: z.strictObject({
      name: z.string().min(1),
      domain,
      airGapped: z.boolean().default(false),
      /**
       * Kernel-wide settings on nodes (module loads, kernel-wide sysctls, swapoff): `apply`, or `skip` where
       * hosts share one kernel (the lab's namespace hosts), which writes them for boot and reports each as
       * skipped. Everything else (packages, files, network sysctls, bridges) is always applied.
       */
      kernelWideSettings: z.enum(['apply', 'skip']).default('apply'),
      /**
       * The site's time servers (addresses or names), which every management host and node follows
       * (systemd-timesyncd, or chrony where it runs). Name them on an air-gapped site: the distribution's
       * default servers are out of reach there. None: the distribution's defaults.
       */
      ntpServers: z.array(z.string().regex(/^[A-Za-z0-9.:-]+$/, { error: 'is a time server: an address or a host name' })).default([]),
    }),
    /** Packages every management host and node must have. */
    packages: z.strictObject({
      management: z.array(z.string().min(1)).default(defaultPackages.management),
      /** Beyond these, kubeadm nodes get containerd (RKE2 brings its own). */
      nodes: z.array(z.string().min(1)).default(defaultPackages.nodes),
    }).default(defaultPackages),
    ssh: z.strictObject({
      /** The private key Ansible and the SSH helper use; the agent when absent. */
      privateKey: z.string().optional(),
      knownHosts: z.string().min(1),
      user: z.string().min(1).default('root'),
    }),
    managementHosts: z.array(sshEndpoint.extend({ bridges: z.array(bridge).default([]) })).min(1),
    networks: z.array(z.strictObject({ name: hostname, vlan: z.number().int().min(1).max(4094), cidr, gateway: ipv4 })).default([]),
    /**
     * OPNsense firewalls, configured through their API: `port` of the API (HTTPS), `caFile` the CA that signed
     * its certificate (the system's CAs when absent), `vlanParent` the interface the networks' VLANs are made
     * on (none: VLANs are not made there), `ruleInterface` the interface the clusters' pass rules sit on, or
     * a list of them: every interface the clusters' clients come in on (the operators' LAN, and the VLAN of
     * a data-plane network whose clusters reach MCM's API and ingress through the firewall), as OPNsense's
     * identifiers (lan, opt1, ...).
     */
    firewalls: z
      .array(
        z.strictObject({
          name: hostname,
          address: ipv4,
          port: z.number().int().min(1).max(65535).default(443),
          caFile: z.string().min(1).optional(),
          apiKey: secretReference,
          apiSecret: secretReference,
          vlanParent: interfaceName.optional(),
          ruleInterface: z
            .union([opnsenseInterface, z.array(opnsenseInterface).min(1, { error: 'names no interface: give one (lan) or several' })])
            .default('lan')
            .transform((value) => [...new Set(typeof value === 'string' ? [value] : value)].sort()),
        }),
      )
      .default([]),
    /** `proxmox`: VMs are created on Proxmox; `existing`: the nodes exist already (bare metal, the lab). */
    infrastructure: z.enum(['proxmox', 'existing']).default('proxmox'),
    proxmox: z.strictObject({
      apiUrl: z.url({ protocol: /^https?$/, error: (issue) => `'${String(issue.input)}' is not an http(s) URL` }),
      tokenId: z.string().regex(/^[\w.-]+@[\w.-]+![\w.-]+$/, { error: 'a token id looks like packer@pve!onboarder' }),
      token: secretReference,
      /** Proxmox's own commands (qm, pveum) are root's: a node is logged in to as root unless its `user` says otherwise. */
      nodes: z.array(sshEndpoint.extend({ user: z.string().min(1).default('root') })).min(1),
      storage: z.strictObject({
        pool: z.string().min(1),
        type: z.enum(['rbd', 'lvm-thin', 'dir']),
        isoStorage: z.string().min(1),
        /** Where the first node keeps the cloud image it customizes and imports: the `local` storage's ISO directory. */
        isoDirectory: z.string().regex(/^\/[^\0]*[^/]$/, { error: 'an absolute directory path without a trailing /' }).default('/var/lib/vz/template/iso'),
      }),
      templates: z.strictObject({
        baseVmId: vmId.default(9002),
        goldenVmId: vmId.default(9001),
        /**
         * The address the golden image's build VM takes (cloud-init, with its network's gateway and VLAN, the
         * site's DNS servers) while packer provisions it over SSH: one of the VMs' networks' free addresses,
         * for a site whose VM networks have no DHCP. Without it the build VM asks DHCP on the bridge's
         * untagged network.
         */
        buildAddress: ipv4.optional(),
      }),
      /**
       * The bridge of every Proxmox node that the VMs' network card is on (`vmbr0`), tagged with the VLAN of
       * the network the VM's address is on where `tagVlan`: a VLAN-aware bridge, as Proxmox's network
       * documentation sets one up. `tagVlan: false` where the bridge carries that VLAN untagged already (then
       * every VM is on one network).
       */
      vmBridge: z
        .strictObject({ name: interfaceName.default('vmbr0'), tagVlan: z.boolean().default(true) })
        .prefault({}),
      /**
       * Heavy Proxmox operations Onboarder runs at once (a cluster's VM apply, a template build). Unset, the
       * storage decides: 4 on Ceph RBD, 2 on lvm-thin and dir, whose full clones hold Proxmox's storage lock
       * for the whole copy (parallel clones then fail with "can't lock file ... got timeout").
       */
      parallelOperations: z.number().int().min(1).max(20).optional(),
    }).optional(),
    /** Any number of clusters, by the names the site gives them, each with its role. */
    clusters: z.record(clusterName, cluster),
    /**
     * The site's DNS: a dnsmasq on each of `servers` (management hosts; `server` for one) that answers for
     * `zone` (each node, each management host, `api.<cluster>`, `*.apps.<cluster>`, the extra `records`)
     * and forwards every other name to `forwarders` (the firewall's or the site's resolvers; none on an
     * air-gapped site). Every node resolves through them (node-prep; a new VM from its first boot), so the
     * names the clusters pull and back up from (the registry mirror, the S3 store) resolve on the nodes and
     * in their pods; with two or three servers, a node still resolves while one is down (a management host
     * patched and restarted). At most three: a node's resolver asks no more (glibc's MAXNS).
     */
    dns: z
      .strictObject({
        server: sshEndpoint.optional(),
        servers: z.array(sshEndpoint).min(1).max(3, { error: 'has more than 3 servers: a node\'s resolver asks the first 3 only (glibc)' }).optional(),
        zone: domain,
        records: z.array(dnsRecord).default([]),
        forwarders: z.array(ipv4).default([]),
      })
      .superRefine((dns, context) => {
        // Fatal: the site-wide checks read the servers.
        if ((dns.server === undefined) === (dns.servers === undefined)) context.addIssue({ code: 'custom', message: 'names its servers with server (one) or servers (a list): give one of them', continue: false });
        dns.servers?.forEach((server, index) => {
          const earlier = dns.servers!.findIndex((other) => other.address === server.address || other.name === server.name);
          if (earlier < index) context.addIssue({ code: 'custom', path: ['servers', index], message: `is dns.servers[${earlier}] again: name each server once` });
        });
      })
      .transform(({ server, servers, ...rest }) => ({ servers: servers ?? [server!], ...rest })),
    /**
     * Where the nodes pull a registry's images from instead (containerd's certs.d, RKE2's registries.yaml;
     * helm's OCI charts too on an air-gapped site). An air-gapped site without a siteRegistry names one for
     * every registry the images come from (checked on load); with one, the site registry is every registry's
     * mirror unless named here. `caFile`: the CA that signed the mirror's certificate, which the nodes and
     * helm verify it with.
     */
    registryMirrors: z
      .array(
        z
          .strictObject({
            registry: z.string().min(1),
            mirror: z.url(),
            /** The CA that signed the mirror's TLS certificate (PEM), where the system's CAs do not (the site registry's own caFile where it is the site registry). */
            caFile: z.string().min(1).optional(),
          })
          .refine((entry) => !(entry.caFile && entry.mirror.startsWith('http://')), { message: 'has a caFile for a plain-HTTP mirror: name an https:// mirror, or drop caFile', path: ['caFile'] }),
      )
      .default([]),
    /**
     * The site's HTTP proxy, where a connected site reaches the internet only through one (kubespray's
     * http_proxy, https_proxy and no_proxy): each node's apt and container runtime (containerd, or RKE2's
     * own), and what the steps download on the nodes, go through it. `http`: http://host:port, or a secret
     * reference when the URL holds credentials; `https`: the same, `http` when absent; `noProxy`: more names,
     * domains (`.corp.example`), addresses or CIDRs reached directly, beside the site's own (its networks and
     * machines, its zone and domain, the clusters' pod and service networks, `.svc`, `.cluster.local`).
     */
    proxy: z.strictObject({ http: proxyUrl, https: proxyUrl.optional(), noProxy: z.array(noProxyEntry).default([]) }).optional(),
    /**
     * Where a connected machine fetches artifacts instead of their publishers (a proxy such as Artifactory):
     * a URL or image reference starting with `prefix` is fetched from `mirror` followed by the rest. Digests
     * are still the publishers', checked as ever. The nodes' Kubernetes packages too (`https://pkgs.k8s.io/`:
     * the repository and its signing key; apt checks the packages' signatures), and every URI of the hosts'
     * own package sources (`http://archive.ubuntu.com/ubuntu/`: the site's Ubuntu mirror). A mirror's TLS certificate is
     * verified against the system's CAs, or against `caFile` (PEM: the CA that signed it, such as a company's
     * own) by everything that reaches that mirror: the controller's downloads, skopeo, helm and the nodes' apt.
     */
    upstreamMirrors: z
      .array(
        z
          .strictObject({
            prefix: z.string().min(1),
            mirror: z.string().min(1),
            /** A mirror reached over plain HTTP (registries) or unverified TLS (a trusted network only: digests still decide). */
            insecure: z.boolean().default(false),
            /** The CA that signed the mirror's TLS certificate (PEM), where the system's CAs do not. */
            caFile: z.string().min(1).optional(),
            /**
             * The OpenPGP keys (fingerprints, as `gpg --show-keys` prints them) that sign the apt repositories
             * this mirror serves, where it signs them itself (aptly, Pulp) instead of passing the publishers'
             * signatures on. The Kubernetes packages' signing key fetched from it must be one of them; without
             * this, it must be the publisher's (pkgs.k8s.io's).
             */
            signingKeys: z.array(openPgpFingerprint).min(1, { error: 'names no key: name the fingerprints of the keys the mirror signs with, or drop signingKeys' }).optional(),
          })
          .refine((entry) => !(entry.caFile && entry.insecure), { message: 'has both caFile and insecure: a mirror whose CA is named is verified with it, so drop insecure', path: ['insecure'] })
          .refine((entry) => !(entry.caFile && entry.mirror.startsWith('http://')), { message: 'has a caFile for a plain-HTTP mirror: name an https:// mirror, or drop caFile', path: ['caFile'] }),
      )
      .default([]),
    /**
     * The site's own registry, which `bundle:load` fills and air-gapped nodes pull from (through
     * registryMirrors): `address` as host:port, `caFile` the CA of its TLS certificate, credentials as secrets.
     */
    siteRegistry: z
      .strictObject({
        address: z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$/, { error: 'is host:port (no scheme, no path)' }),
        caFile: z.string().min(1).optional(),
        username: z.string().min(1).optional(),
        password: secretReference.optional(),
      })
      // One without the other would pull without credentials and fail only at the site.
      .refine((registry) => (registry.username === undefined) === (registry.password === undefined), { message: 'has a username without a password or a password without a username: give both, or neither for a registry that needs no login', path: ['username'] })
      .optional(),
    versions: z.strictObject({
      rke2: version,
      kubernetes: version,
      cilium: version,
      /** kube-vip, which holds a cluster's API address where it is a virtual IP (no node's address). */
      kubeVip: version,
      /** velero-plugin-for-aws, the release that goes with the Velero chart's Velero (1.14: v1.10). */
      veleroAwsPlugin: version,
      /** The platform services' Helm charts, each pinned: a missing one is refused on load, never `latest`. */
      charts: z.strictObject({
        'ingress-nginx': version,
        'kube-prometheus-stack': version,
        'cert-manager': version,
        'proxmox-csi-plugin': version,
        velero: version,
        /** kubeadm clusters only (RKE2 brings its own): the metrics API (`kubectl top`, autoscalers). */
        'metrics-server': version,
        /** kubeadm clusters only: approves each kubelet's serving-certificate request (kubespray's). */
        'kubelet-csr-approver': version,
      }),
    }),
    /**
     * Where Velero (a platform service) keeps each cluster's backups of its Kubernetes objects: an S3
     * bucket (MinIO or Ceph RGW at the site), each cluster under its own prefix, with a daily schedule
     * (`schedule`, cron) kept for `ttl`. Without it Velero is not installed: it would have nowhere to write.
     */
    velero: z
      .strictObject({
        s3Url: z.url(),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'is an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)' }),
        region: z.string().min(1).default('minio'),
        accessKeyId: secretReference,
        secretAccessKey: secretReference,
        /** The CA of the S3 endpoint's TLS certificate (PEM), when a site CA signs it. */
        caFile: z.string().min(1).optional(),
        schedule: z.string().regex(/^(\S+\s+){4}\S+$/, { error: 'is a cron schedule of five fields, such as "0 3 * * *"' }).default('0 3 * * *'),
        ttl: z.string().regex(/^\d+h$/, { error: 'is a number of hours, such as 720h' }).default('720h'),
      })
      .optional(),
    /**
     * The site's certificate authority, which cert-manager (a platform service) issues the applications'
     * certificates from in every cluster: the ClusterIssuer `openspace-site-ca`, which an Ingress names
     * (annotation `cert-manager.io/cluster-issuer: openspace-site-ca`) to get a certificate for its
     * `*.apps.<cluster>` name that every machine trusting the site's CA trusts. `certificate`: the CA's PEM
     * file; `key`: its private key, a secret. Without it, no issuer is made (and one made before is removed).
     */
    siteCa: z.strictObject({ certificate: z.string().min(1), key: secretReference }).optional(),
    vaultPassword: secretReference.optional(),
    /**
     * Where the environment's state (stamps, outcomes, durations) and run lock live: files under the
     * project's .cache/ (the default), or a PostgreSQL database a team and its CI runners share, its URL a
     * secret (`postgresql://user:password@host:5432/db`). `tsx deploy.ts state push` moves the file state there.
     */
    state: z
      .discriminatedUnion('store', [z.strictObject({ store: z.literal('file') }), z.strictObject({ store: z.literal('postgres'), url: secretReference })])
      .default({ store: 'file' }),
    /**
     * Snapshots of every cluster's etcd (`etcd-backup`, `tsx deploy.ts backups`), kept off the cluster on the
     * machine that runs Onboarder: under `directory` (relative to the project, or absolute: a mounted share),
     * one folder per environment and cluster, the newest `keep` of each; a run takes a fresh one when the
     * newest is older than `every`.
     */
    backups: z
      .strictObject({
        directory: z.string().min(1).default('backups'),
        keep: z.number().int().min(1).max(1000).default(7),
        every: z.string().regex(/^\d+(\.\d+)?[mh]$/, { error: 'is a duration in minutes or hours, such as 30m or 24h' }).default('24h'),
      })
      .prefault({}),
    /**
     * The clusters' certificates (`certificates[cluster=...]`, `tsx deploy.ts certificates`): renewed on a
     * cluster whose nodes hold one that expires within `renewBefore` days (kubeadm's and RKE2's leaf
     * certificates last a year; their CAs ten).
     */
    certificates: z
      .strictObject({
        renewBefore: z.number().int().min(1).max(364).default(90),
      })
      .prefault({}),
    /**
     * The API servers' audit log on every control-plane node (kubespray's kubernetes_audit, the CIS
     * benchmark's 1.2.16-1.2.19): one line per request under tasks/kubernetes/playbooks/files/audit-policy.yaml,
     * a new file every `maxSize` MB, the newest `maxBackups` rotated files kept, none older than `maxAge` days.
     */
    audit: z
      .strictObject({
        maxAge: z.number().int().min(1).max(3650).default(30),
        maxBackups: z.number().int().min(1).max(1000).default(10),
        maxSize: z.number().int().min(1).max(100_000).default(100),
      })
      .prefault({}),
  });

export const environmentSchema = environmentShape.superRefine((environment, context) => {
    checkAddressing(environment, context);
    checkApiAddresses(environment, context);
    checkDnsRecords(environment, context);
    checkForwarders(environment, context);
    checkProxy(environment, context);
    checkMirrorHosts(environment, context);
    checkVmNetwork(environment, context);
    checkRoles(environment, context);
    checkPodNetworks(environment, context);
    checkKubeadmImages(environment, context);
    checkAirGappedPulls(environment, context);
    checkKubelets(environment, context);
    checkDnsAutoscalers(environment, context);
    const vmIds = new Map<number, string>();
    const nodeNames = new Map<string, string>();
    if (environment.infrastructure === 'proxmox' && !environment.proxmox) {
      context.addIssue({ code: 'custom', path: ['proxmox'], message: "is missing: infrastructure 'proxmox' needs the Proxmox API, nodes and storage" });
    }
    const templates = environment.proxmox?.templates ?? { baseVmId: -1, goldenVmId: -1 };
    for (const [clusterName, definition] of Object.entries(environment.clusters)) {
      const nodes = [...definition.controlPlane.map((n, i) => ({ n, at: `clusters.${clusterName}.controlPlane[${i}]` })), ...definition.workers.map((n, i) => ({ n, at: `clusters.${clusterName}.workers[${i}]` }))];
      for (const { n, at } of nodes) {
        const path = at.replace(/\[(\d+)\]/g, '.$1').split('.').map((key) => (/^\d+$/.test(key) ? Number(key) : key));
        const seenId = vmIds.get(n.vmId);
        if (seenId) context.addIssue({ code: 'custom', path: [...path, 'vmId'], message: `VM id ${n.vmId} is already used by ${seenId}` });
        else if (n.vmId === templates.baseVmId || n.vmId === templates.goldenVmId) context.addIssue({ code: 'custom', path: [...path, 'vmId'], message: `VM id ${n.vmId} is reserved for a template` });
        vmIds.set(n.vmId, at);
        const proxmoxNodes = environment.proxmox?.nodes.map((each) => each.name) ?? [];
        if (n.proxmoxNode !== undefined && environment.proxmox && !proxmoxNodes.includes(n.proxmoxNode)) {
          context.addIssue({ code: 'custom', path: [...path, 'proxmoxNode'], message: `'${n.proxmoxNode}' is not one of proxmox.nodes (${proxmoxNodes.join(', ')})` });
        }
        const seenName = nodeNames.get(n.name);
        if (seenName && seenName.split('.')[1] !== clusterName) context.addIssue({ code: 'custom', path: [...path, 'name'], message: `node '${n.name}' is already in cluster ${seenName.split('.')[1]} (${seenName}): a node belongs to one cluster` });
        else if (seenName) context.addIssue({ code: 'custom', path: [...path, 'name'], message: `node '${n.name}' is listed twice (also ${seenName})` });
        nodeNames.set(n.name, at);
      }
    }
  })
  // The management hosts are logged in to as ssh.user where they do not name their own user; a DNS server as
  // the management host at its address is (it is that machine), else as ssh.user.
  .transform((environment) => {
    const managementHosts = environment.managementHosts.map((host) => ({ ...host, user: host.user ?? environment.ssh.user }));
    const userAt = (address: string) => managementHosts.find((host) => host.address === address)?.user ?? environment.ssh.user;
    return { ...environment, managementHosts, dns: { ...environment.dns, servers: environment.dns.servers.map((server) => ({ ...server, user: server.user ?? userAt(server.address) })) } };
  });

/** Exactly one management cluster, and it runs RKE2 (the RKE2 management cluster of the seeds). */
function checkRoles(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const management = Object.entries(environment.clusters).filter(([, cluster]) => cluster.role === 'mcm');
  if (management.length === 0) context.addIssue({ code: 'custom', path: ['clusters'], message: "has no management cluster: declare one cluster with role 'mcm'" });
  for (const [name] of management.slice(1)) {
    context.addIssue({ code: 'custom', path: ['clusters', name, 'role'], message: `'mcm' is already the role of cluster ${management[0]![0]}: a site has one management cluster` });
  }
  for (const [name, cluster] of management) {
    if (cluster.distribution !== 'rke2') context.addIssue({ code: 'custom', path: ['clusters', name, 'distribution'], message: "the management cluster runs 'rke2'" });
  }
}

/** Canal is RKE2's own: a kubeadm cluster given it would get no pod network and its nodes would never be Ready. */
function checkPodNetworks(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    if (cluster.distribution === 'kubeadm' && cluster.cni !== 'cilium') {
      context.addIssue({ code: 'custom', path: ['clusters', name, 'cni'], message: `'${cluster.cni}' is RKE2's own pod network, which a kubeadm cluster does not have: use 'cilium' (kubeadm clusters run it without kube-proxy)` });
    }
  }
}

/**
 * Each cluster's kubelet settings go to the kubelet's drop-in directory (--config-dir), which Kubernetes
 * 1.30 takes as it is (1.28 and 1.29 only behind an environment variable); and its reservations must leave
 * every node of the cluster something for pods.
 */
function checkKubelets(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const versionKeys = new Set(Object.values(environment.clusters).map((cluster) => (cluster.distribution === 'rke2' ? 'rke2' : 'kubernetes') as 'rke2' | 'kubernetes'));
  for (const key of versionKeys) {
    const [major = 0, minor = 0] = (/^v?(\d+)\.(\d+)/.exec(environment.versions[key]) ?? []).slice(1).map(Number);
    if (major === 1 && minor < 30) {
      context.addIssue({ code: 'custom', path: ['versions', key], message: `${environment.versions[key]} is older than Kubernetes 1.30, the first whose kubelet takes the drop-in configuration Onboarder writes (clusters.*.kubelet): deploy 1.30 or later` });
    }
  }
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    const problem = reservationProblem(cluster.kubelet, [...cluster.controlPlane, ...cluster.workers]);
    if (problem) context.addIssue({ code: 'custom', path: ['clusters', name, 'kubelet'], message: problem });
  }
}

/** An RKE2 cluster's CoreDNS is scaled by RKE2's own chart: settings for Onboarder's autoscaler there would do nothing. */
function checkDnsAutoscalers(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    if (cluster.distribution !== 'rke2' || cluster.dnsAutoscaler === undefined) continue;
    context.addIssue({
      code: 'custom',
      path: ['clusters', name, 'dnsAutoscaler'],
      message: "is for kubeadm clusters: RKE2's rke2-coredns chart scales CoreDNS itself (its autoscaler values, through a HelmChartConfig); remove this key",
    });
  }
}

/**
 * An air-gapped site's kubeadm clusters run images whose tags only kubeadm knows (etcd, CoreDNS, pause): the
 * manifest must list them for the environment's Kubernetes version, or the site registry would lack them.
 */
function checkKubeadmImages(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const version = environment.versions.kubernetes;
  if (!environment.site.airGapped || kubeadmImageTags[version] || !Object.values(environment.clusters).some((cluster) => cluster.distribution === 'kubeadm')) return;
  context.addIssue({
    code: 'custom',
    path: ['versions', 'kubernetes'],
    message: `${version}: the images kubeadm runs at this version (etcd, CoreDNS, pause) are not in images/kubeadm-images.ts: add its line from \`kubeadm config images list --kubernetes-version ${version}\` (it lists ${Object.keys(kubeadmImageTags)[0]} to ${Object.keys(kubeadmImageTags).at(-1)})`,
  });
}

/**
 * An air-gapped site's clusters pull every image (and helm every OCI chart) through its site registry, or
 * through the mirrors it names: a registry the images come from with neither would fail only at the site,
 * as pods that never start and a helm release that times out.
 */
function checkAirGappedPulls(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  if (!environment.site.airGapped || environment.siteRegistry || Object.keys(environment.clusters).length === 0) return;
  const unreached = imageRegistries(environment.versions).filter((registry) => !environment.registryMirrors.some((entry) => entry.registry === registry));
  if (unreached.length === 0) return;
  context.addIssue({
    code: 'custom',
    path: ['registryMirrors'],
    message: `has no mirror for ${unreached.join(', ')}, where the clusters' images come from, and this air-gapped site names no siteRegistry: name one (bundle:load fills it, and every registry is pulled from it), or a registryMirrors entry for each`,
  });
}

/** An IPv4 address as a number, and a CIDR as the first and last address it holds. */
function ipNumber(address: string): number {
  return address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}
function cidrRange(block: string): { readonly first: number; readonly last: number } {
  const [address, bits] = block.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(ipNumber(address!) / size) * size;
  return { first, last: first + size - 1 };
}
const inside = (address: string, block: string) => {
  const { first, last } = cidrRange(block);
  const value = ipNumber(address);
  return value >= first && value <= last;
};
const overlapping = (a: string, b: string) => {
  const [x, y] = [cidrRange(a), cidrRange(b)];
  return x.first <= y.last && y.first <= x.last;
};
const pathOf = (at: string) => at.replace(/\[(\d+)\]/g, '.$1').split('.').map((key) => (/^\d+$/.test(key) ? Number(key) : key));

/**
 * Addresses and networks that cannot work together, each reported with its path: two machines with one
 * address, a gateway outside its network, a cluster's API or node address inside its pod or service
 * network, pod and service networks that overlap (within a cluster or between clusters: routed or meshed
 * clusters must not share them).
 */
function checkAddressing(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const machines = machinesOf(environment);
  const owners = new Map<string, string>();
  for (const [at, address] of machines) {
    const owner = owners.get(address);
    if (owner) context.addIssue({ code: 'custom', path: pathOf(at), message: `${address} is already the address of ${owner}` });
    else owners.set(address, at);
  }
  environment.networks.forEach((network, index) => {
    if (!inside(network.gateway, network.cidr)) context.addIssue({ code: 'custom', path: ['networks', index, 'gateway'], message: `${network.gateway} is outside its network ${network.cidr}` });
  });
  const blocks: [string, string][] = [];
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    for (const key of ['podCidr', 'serviceCidr'] as const) {
      if (inside(cluster.apiAddress, cluster[key])) context.addIssue({ code: 'custom', path: ['clusters', name, 'apiAddress'], message: `${cluster.apiAddress} is inside ${key} ${cluster[key]}` });
      for (const [at, address] of machines.filter(([at]) => at.startsWith(`clusters.${name}.`))) {
        if (inside(address, cluster[key])) context.addIssue({ code: 'custom', path: pathOf(at), message: `${address} is inside ${key} ${cluster[key]}` });
      }
      const block = cluster[key];
      const clash = blocks.find(([, other]) => overlapping(block, other));
      if (clash) context.addIssue({ code: 'custom', path: ['clusters', name, key], message: `${block} overlaps ${clash[0]} ${clash[1]}` });
      blocks.push([`clusters.${name}.${key}`, block]);
    }
  }
}

/**
 * Every machine the environment names, with where: management hosts, Proxmox nodes, firewalls, cluster nodes.
 * A Proxmox node at a management host's address is that host (the site's KVM hosts run Proxmox VE): one machine.
 */
function machinesOf(environment: z.output<typeof environmentShape>): [string, string][] {
  const management = new Set(environment.managementHosts.map((host) => host.address));
  const machines: [string, string][] = [
    ...environment.managementHosts.map((host, index): [string, string] => [`managementHosts[${index}].address`, host.address]),
    ...(environment.proxmox?.nodes ?? []).flatMap((host, index): [string, string][] => (management.has(host.address) ? [] : [[`proxmox.nodes[${index}].address`, host.address]])),
    ...environment.firewalls.map((firewall, index): [string, string] => [`firewalls[${index}].address`, firewall.address]),
  ];
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    cluster.controlPlane.forEach((node, index) => machines.push([`clusters.${name}.controlPlane[${index}].address`, node.address]));
    cluster.workers.forEach((node, index) => machines.push([`clusters.${name}.workers[${index}].address`, node.address]));
  }
  // The golden image's build VM, while it runs: last, so that a clash names it.
  const buildAddress = environment.proxmox?.templates.buildAddress;
  if (buildAddress) machines.push(['proxmox.templates.buildAddress', buildAddress]);
  return machines;
}

/**
 * A cluster's API address is its only control-plane node's, or a virtual IP that kube-vip holds on the
 * control-plane nodes by ARP: so it is no other machine's address nor another cluster's API address, and a
 * virtual IP sits on the control plane's network where the environment declares that network. An API address
 * on the second control-plane node would make the first one's init wait on a node that is not up yet; one on
 * the first of several would make the whole cluster's API stop with that one node.
 */
function checkApiAddresses(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const machines = machinesOf(environment);
  const apis = new Map<string, string>();
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    if (cluster.controlPlane.length === 0) continue;
    const at = ['clusters', name, 'apiAddress'];
    const address = cluster.apiAddress;
    const otherCluster = apis.get(address);
    apis.set(address, name);
    if (otherCluster) {
      context.addIssue({ code: 'custom', path: at, message: `${address} is already the API address of cluster ${otherCluster}: each cluster has its own` });
      continue;
    }
    const ownIndex = cluster.controlPlane.findIndex((node) => node.address === address);
    if (ownIndex > 0) {
      context.addIssue({ code: 'custom', path: at, message: `${address} is the address of controlPlane[${ownIndex}] (${cluster.controlPlane[ownIndex]!.name}): use the first control-plane node's address, or a free address for a virtual IP` });
      continue;
    }
    if (ownIndex === 0) {
      if (cluster.controlPlane.length > 1) {
        context.addIssue({ code: 'custom', path: at, message: `${address} is the first control-plane node's address, and the cluster has ${cluster.controlPlane.length}: its API (and every kubelet and client) would stop with that node: give a free address on its network, which kube-vip holds as a virtual IP` });
      }
      continue;
    }
    const owner = machines.find(([, machine]) => machine === address);
    if (owner) {
      context.addIssue({ code: 'custom', path: at, message: `${address} is already the address of ${owner[0]}: a virtual IP is an address no machine has` });
      continue;
    }
    const network = environment.networks.find((candidate) => inside(cluster.controlPlane[0]!.address, candidate.cidr));
    if (network && !inside(address, network.cidr)) {
      context.addIssue({ code: 'custom', path: at, message: `${address} is outside network ${network.name} (${network.cidr}) of its control-plane nodes: kube-vip answers for a virtual IP by ARP, on their network` });
    } else if (network?.gateway === address) {
      context.addIssue({ code: 'custom', path: at, message: `${address} is the gateway of network ${network.name}: a virtual IP is an address no machine has` });
    }
  }
}

/**
 * The extra DNS records beside the ones Onboarder makes (each node, each management host, `api.<cluster>`):
 * none takes one of those names, and a CNAME is the only record of its name (RFC 1034). A record under
 * `apps.<cluster>` is allowed: it answers for that one name instead of the cluster's ingress nodes.
 */
function checkDnsRecords(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const generated = new Map<string, string>();
  for (const [name, cluster] of Object.entries(environment.clusters)) {
    generated.set(`api.${name}`, `the API name of cluster ${name}`);
    cluster.controlPlane.forEach((node, index) => generated.set(node.name, `the name of clusters.${name}.controlPlane[${index}]`));
    cluster.workers.forEach((node, index) => generated.set(node.name, `the name of clusters.${name}.workers[${index}]`));
  }
  environment.managementHosts.forEach((host, index) => generated.set(host.name, `the name of managementHosts[${index}]`));
  const seen = new Map<string, { readonly type: string; readonly index: number }>();
  environment.dns.records.forEach((record, index) => {
    const at = ['dns', 'records', index, 'name'];
    const taken = generated.get(record.name);
    if (taken) return context.addIssue({ code: 'custom', path: at, message: `'${record.name}' is ${taken}, whose record Onboarder makes: use another name` });
    const earlier = seen.get(record.name);
    if (earlier && (earlier.type === 'CNAME' || record.type === 'CNAME')) {
      return context.addIssue({ code: 'custom', path: at, message: `'${record.name}' is also dns.records[${earlier.index}]: a name with a CNAME has no other record` });
    }
    if (!earlier) seen.set(record.name, { type: record.type, index });
  });
}

/**
 * The nodes resolve every name through the site's DNS: on a connected site it must forward the names outside
 * its zone (package repositories, registries) somewhere, and never to itself.
 */
function checkForwarders(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const { forwarders, servers } = environment.dns;
  if (!environment.site.airGapped && forwarders.length === 0) {
    context.addIssue({ code: 'custom', path: ['dns', 'forwarders'], message: "is empty on a connected site: the nodes resolve through the site's DNS, which would then know no name outside its zone: name the resolvers it forwards them to (the firewall's, the site's), or set site.airGapped" });
  }
  forwarders.forEach((forwarder, index) => {
    const itself = servers.findIndex((server) => server.address === forwarder);
    if (itself >= 0) context.addIssue({ code: 'custom', path: ['dns', 'forwarders', index], message: `${forwarder} is the site's DNS server ${servers[itself]!.name} itself: forward to another resolver` });
  });
}

/**
 * An air-gapped site reaches nothing outside, through a proxy or otherwise. With a proxy, every machine is
 * on one of the site's networks: the nodes reach them directly by those networks (NO_PROXY), so a node added
 * later changes no node's proxy settings.
 */
/**
 * The hosts' apt takes a mirror's TLS setting per host name (Acquire::https::HOST, no port), so two URL
 * mirrors on one host verified two ways (another caFile, or insecure beside verified) would have apt use one
 * of them for both.
 */
function checkMirrorHosts(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  const seen = new Map<string, { index: number; tls: string }>();
  environment.upstreamMirrors.forEach((entry, index) => {
    if (!/^https?:\/\//.test(entry.prefix) || !entry.mirror.startsWith('https://')) return;
    const host = URL.canParse(entry.mirror) ? new URL(entry.mirror).hostname : entry.mirror;
    const tls = entry.insecure ? 'insecure' : entry.caFile ? `caFile ${entry.caFile}` : "the system's CAs";
    const earlier = seen.get(host);
    if (!earlier) seen.set(host, { index, tls });
    else if (earlier.tls !== tls) {
      context.addIssue({ code: 'custom', path: ['upstreamMirrors', index, 'mirror'], message: `is on host ${host}, verified with ${tls}, where upstreamMirrors[${earlier.index}] on the same host is verified with ${earlier.tls}: the hosts' apt verifies a host one way (its settings take no port): give both the same caFile or insecure` });
    }
  });
}

function checkProxy(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  if (!environment.proxy) return;
  if (environment.site.airGapped) {
    context.addIssue({ code: 'custom', path: ['proxy'], message: 'is set on an air-gapped site, which reaches nothing outside: remove it, or set site.airGapped to false' });
    return;
  }
  const machines: [string, string][] = [...machinesOf(environment), ...environment.dns.servers.map((server, index): [string, string] => [`dns.servers[${index}].address`, server.address])];
  for (const [at, address] of machines) {
    if (environment.networks.some((network) => inside(address, network.cidr))) continue;
    context.addIssue({ code: 'custom', path: pathOf(at), message: `${address} is on none of the site's networks, which the nodes reach directly, not through the proxy: declare the network it is on in networks` });
    return;
  }
}

/** The site's network that holds `address` (a VM gets that network's VLAN, gateway and prefix); none when no network does. */
export function networkOf<Network extends { readonly cidr: string }>(environment: { readonly networks: readonly Network[] }, address: string): Network | undefined {
  return environment.networks.find((network) => inside(address, network.cidr));
}

/** The networks the site's Proxmox VMs are on: those holding a cluster node's address, in the order of `networks`. */
export function vmNetworksOf<Network extends { readonly cidr: string }>(environment: { readonly networks: readonly Network[]; readonly clusters: Readonly<Record<string, { readonly controlPlane: readonly { readonly address: string }[]; readonly workers: readonly { readonly address: string }[] }>> }): Network[] {
  const addresses = Object.values(environment.clusters).flatMap((cluster) => [...cluster.controlPlane, ...cluster.workers].map((node) => node.address));
  return environment.networks.filter((network) => addresses.some((address) => inside(address, network.cidr)));
}

/**
 * A Proxmox VM gets its address on the site's network that holds it, with that network's VLAN, gateway and
 * prefix: so every node's address is on one of `networks` (clusters may be on different ones: a data plane
 * on its own VLAN). A bridge that carries its network untagged (`tagVlan: false`) carries one network only.
 */
function checkVmNetwork(environment: z.output<typeof environmentShape>, context: z.RefinementCtx): void {
  if (environment.infrastructure !== 'proxmox') return;
  if (environment.networks.length === 0) {
    context.addIssue({ code: 'custom', path: ['networks'], message: "has no network for the VMs (infrastructure 'proxmox'): add the one their addresses are on, with its vlan, cidr and gateway" });
    return;
  }
  for (const [at, address] of machinesOf(environment).filter(([at]) => at.startsWith('clusters.'))) {
    if (!networkOf(environment, address)) context.addIssue({ code: 'custom', path: pathOf(at), message: `${address} is on none of the site's networks, whose VLAN, gateway and prefix a VM gets: use an address in one, or declare the network it is on in networks` });
  }
  const used = vmNetworksOf(environment);
  const buildAddress = environment.proxmox?.templates.buildAddress;
  if (buildAddress && !used.some((network) => inside(buildAddress, network.cidr))) {
    context.addIssue({ code: 'custom', path: ['proxmox', 'templates', 'buildAddress'], message: `${buildAddress} is on none of the VMs' networks (${used.map((network) => `${network.name} ${network.cidr}`).join(', ')}): the build VM is a VM like the others, give it a free address on one` });
  }
  if (environment.proxmox && !environment.proxmox.vmBridge.tagVlan && used.length > 1) {
    context.addIssue({ code: 'custom', path: ['proxmox', 'vmBridge', 'tagVlan'], message: `is false (the bridge carries one network untagged), and the VMs are on ${used.length} networks (${used.map((network) => network.name).join(', ')}): set it true on a VLAN-aware bridge, or put every cluster on one network` });
  }
}

/**
 * A validated environment, as tasks see it. `secretDigests` is the loader's, never written in a file: for
 * each secret that steps put on the hosts (the site registry's password), a digest of its value (scrypt,
 * salted with the environment and the secret's path), which those steps read so that a rotated secret runs
 * them again. Present only where secrets were read (runs, plans, --status).
 */
export type Environment = z.output<typeof environmentSchema> & {
  readonly secretDigests?: {
    readonly siteRegistry?: { readonly password?: string };
    readonly velero?: { readonly accessKeyId?: string; readonly secretAccessKey?: string };
    /** The CA's key (scrypt, as the others) and its certificate (sha256: not a secret, but a file the steps put in the clusters). */
    readonly siteCa?: { readonly key?: string; readonly certificate?: string };
    /** The proxy's URLs, where they are secrets (they hold credentials). */
    readonly proxy?: { readonly http?: string; readonly https?: string };
  };
};
/** What an environment file is written as (defaults optional). */
export type EnvironmentDefinition = z.input<typeof environmentSchema>;
export type ClusterConfig = Environment['clusters'][string];

/** Types an environment definition: a typo is a compile error, a bad value a load-time error with its path. */
export function defineEnvironment(definition: EnvironmentDefinition): EnvironmentDefinition {
  return definition;
}
