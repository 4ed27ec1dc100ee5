import YAML from 'yaml';
import type { KubeletSettings } from '../../environments/kubelet-settings.js';

/**
 * The kubelet's drop-in configuration of a cluster's nodes (a KubeletConfiguration that overrides the
 * distribution's own file field by field): the resources kept from pods, graceful node shutdown and the
 * kernel settings' protection of `clusters.<name>.kubelet`. kubeadm nodes read it from /etc/kubernetes/kubelet.conf.d, RKE2 nodes from
 * /etc/rancher/rke2/kubelet.conf.d (includes/kubelet-arguments.yml writes the first, includes/rke2-node.yml the second).
 */
export function kubeletDropIn(cluster: { readonly name: string; readonly kubelet: KubeletSettings }): string {
  const { kubeReserved, systemReserved, shutdownGracePeriod, shutdownGracePeriodCriticalPods, protectKernelDefaults } = cluster.kubelet;
  const configuration = { apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', kubeReserved, systemReserved, shutdownGracePeriod, shutdownGracePeriodCriticalPods, protectKernelDefaults };
  return `# Managed by Onboarder: the kubelet settings of cluster ${cluster.name} (clusters.${cluster.name}.kubelet).\n${YAML.stringify(configuration)}`;
}
