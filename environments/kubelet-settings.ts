import { z } from 'zod';

/**
 * A cluster's kubelet settings beyond the distribution's own, with kubespray's defaults (its
 * roles/kubernetes/node defaults and kubespray_defaults): resources kept from pods for the kubelet and the
 * container runtime (`kubeReserved`) and for the operating system (`systemReserved`), so that a node full of
 * pods does not starve them; and graceful node shutdown, so that a VM shut down without a drain (a Proxmox
 * host's maintenance, a reboot outside a roll) stops its pods in order instead of losing them mid-write.
 */

/** A CPU quantity as Kubernetes writes it: cores (`1`, `0.5`) or millicores (`500m`). */
const cpuQuantity = z.string().regex(/^(\d+(\.\d+)?|\d+m)$/, { error: (issue) => `'${String(issue.input)}' is not a CPU quantity: cores (1, 0.5) or millicores (500m)` });
/** A size as Kubernetes writes it: bytes, or with a suffix (`512Mi`, `1Gi`, `500M`). */
const byteQuantity = z.string().regex(/^\d+(\.\d+)?(k|M|G|T|Ki|Mi|Gi|Ti)?$/, { error: (issue) => `'${String(issue.input)}' is not a size: bytes, or with Ki, Mi, Gi, Ti (binary) or k, M, G, T (decimal) such as 512Mi` });
/** A number of process IDs. */
const pidCount = z.string().regex(/^\d+$/, { error: (issue) => `'${String(issue.input)}' is not a number of process IDs (1000)` });

/** Resources kept from pods, as the kubelet's kubeReserved and systemReserved take them. */
const reservedResources = z.strictObject({
  cpu: cpuQuantity.optional(),
  memory: byteQuantity.optional(),
  'ephemeral-storage': byteQuantity.optional(),
  pid: pidCount.optional(),
});

/** A duration as Go writes it (`60s`, `1m30s`, `0s`). */
export const duration = z.string().regex(/^(0|(\d+(\.\d+)?(ms|s|m|h))+)$/, { error: (issue) => `'${String(issue.input)}' is not a duration: a number and a unit, as 60s, 2m or 1m30s` });

const defaults = {
  kubeReserved: { cpu: '100m', memory: '256Mi', 'ephemeral-storage': '500Mi', pid: '1000' },
  systemReserved: { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '500Mi', pid: '1000' },
  shutdownGracePeriod: '60s',
  shutdownGracePeriodCriticalPods: '20s',
  protectKernelDefaults: true,
};

export const kubeletSettings = z
  .strictObject({
    /** For the kubelet and the container runtime (kubespray's kube_*_reserved). */
    kubeReserved: reservedResources.default(defaults.kubeReserved),
    /** For the operating system's own daemons (kubespray's system_*_reserved). */
    systemReserved: reservedResources.default(defaults.systemReserved),
    /** How long a node's shutdown waits for its pods to stop (kubespray's kubelet_shutdown_grace_period); `0s`: not at all. */
    shutdownGracePeriod: duration.default(defaults.shutdownGracePeriod),
    /** The part of it kept for critical pods, which stop last (kubelet_shutdown_grace_period_critical_pods). */
    shutdownGracePeriodCriticalPods: duration.default(defaults.shutdownGracePeriodCriticalPods),
    /**
     * The kubelet refuses to run on a kernel whose settings differ from those it expects (kubespray's
     * kubelet_protect_kernel_defaults, the CIS benchmark's 4.2.6): node-prep sets them with it
     * (kernelProtectionSysctls), so a kernel changed behind the cluster's back stops the kubelet instead of
     * running pods on it.
     */
    protectKernelDefaults: z.boolean().default(defaults.protectKernelDefaults),
  })
  .refine((settings) => seconds(settings.shutdownGracePeriodCriticalPods) <= seconds(settings.shutdownGracePeriod), {
    error: 'keeps more time for critical pods (shutdownGracePeriodCriticalPods) than the whole shutdown has (shutdownGracePeriod): the first is a part of the second',
    path: ['shutdownGracePeriodCriticalPods'],
  })
  .default(defaults);
export type KubeletSettings = z.output<typeof kubeletSettings>;

/**
 * The kernel settings a kubelet with protectKernelDefaults checks, at the values it expects (kubespray's
 * "Ensure kubelet expected parameters are set"; RKE2's rke2-cis-sysctl.conf): a panic reboots the node
 * after 10 s, an oops panics, memory is overcommitted as Kubernetes' own accounting assumes, and an OOM
 * kills a process rather than panicking.
 */
export const kernelProtectionSysctls = {
  'kernel.keys.root_maxbytes': 25000000,
  'kernel.keys.root_maxkeys': 1000000,
  'kernel.panic': 10,
  'kernel.panic_on_oops': 1,
  'vm.overcommit_memory': 1,
  'vm.panic_on_oom': 0,
} as const;

/** The kubelet's default hard eviction threshold for memory (memory.available<100Mi), also kept from pods. */
const evictionMiB = 100;

/**
 * The reservations must leave each node something for pods: a node whose allocatable memory or CPU is
 * nothing registers, and no pod is ever scheduled on it. Returns the problem with one node, or undefined.
 */
export function reservationProblem(settings: KubeletSettings, nodes: readonly { readonly name: string; readonly cores: number; readonly memoryMiB: number }[]): string | undefined {
  const reservedMiB = mebibytes(settings.kubeReserved.memory) + mebibytes(settings.systemReserved.memory) + evictionMiB;
  const reservedCores = cores(settings.kubeReserved.cpu) + cores(settings.systemReserved.cpu);
  for (const node of nodes) {
    if (reservedMiB >= node.memoryMiB) return `keeps ${Math.ceil(reservedMiB)} MiB of memory from pods (kubeReserved, systemReserved and the kubelet's ${evictionMiB} MiB eviction threshold), and node ${node.name} has ${node.memoryMiB} MiB: give it more (memoryMiB), or reserve less`;
    if (reservedCores >= node.cores) return `keeps ${reservedCores} CPU cores from pods (kubeReserved and systemReserved), and node ${node.name} has ${node.cores}: give it more (cores), or reserve less`;
  }
  return undefined;
}

/** A Go duration in seconds. */
export function seconds(value: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * units[unit!]!;
  return total;
}

function mebibytes(value: string | undefined): number {
  if (value === undefined) return 0;
  const [, amount, suffix = ''] = /^(\d+(?:\.\d+)?)(\D*)$/.exec(value)!;
  const factor: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return (Number(amount) * factor[suffix]!) / 1024 ** 2;
}

function cores(value: string | undefined): number {
  if (value === undefined) return 0;
  return value.endsWith('m') ? Number(value.slice(0, -1)) / 1000 : Number(value);
}
