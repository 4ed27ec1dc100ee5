/**
 * Cilium's values for a kubeadm cluster: kube-proxy replaced, the API at the cluster's address, its pod CIDR.
 * The kubernetes step installs Cilium with them (this file is one of its sources: a changed value installs
 * again), and bundle:find-images renders the chart with them.
 */
export function ciliumValues(cluster: { readonly apiAddress: string; readonly podCidr: string }): Record<string, unknown> {
  return { kubeProxyReplacement: true, k8sServiceHost: cluster.apiAddress, k8sServicePort: 6443, ipam: { operator: { clusterPoolIPv4PodCIDRList: [cluster.podCidr] } } };
}
