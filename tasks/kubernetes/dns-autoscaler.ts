import { dnsAutoscalerImage } from '../../images/manifest.js';
import type { Environment } from '../../environments/schema.js';

type Cluster = Environment['clusters'][string];

/** The autoscaler's objects in kube-system, by kind and name (what `dnsAutoscaler: false` deletes, the Deployment first). */
export const dnsAutoscalerObjects = [
  { kind: 'deployment', name: 'dns-autoscaler', namespace: 'kube-system' },
  { kind: 'configmap', name: 'dns-autoscaler', namespace: 'kube-system' },
  { kind: 'clusterrolebinding', name: 'system:dns-autoscaler' },
  { kind: 'clusterrole', name: 'system:dns-autoscaler' },
  { kind: 'serviceaccount', name: 'dns-autoscaler', namespace: 'kube-system' },
] as const;

/**
 * The linear parameters the autoscaler scales CoreDNS by: the cluster's `dnsAutoscaler` over kubespray's
 * defaults (a replica per 256 cores or 16 nodes, at least 2, or 1 on a one-node cluster, never all of them on
 * one node where there are two or more).
 */
export function dnsAutoscalerParameters(cluster: Pick<Cluster, 'controlPlane' | 'workers' | 'dnsAutoscaler'>): { coresPerReplica: number; nodesPerReplica: number; min: number; preventSinglePointFailure: boolean } {
  const settings: { readonly coresPerReplica?: number; readonly nodesPerReplica?: number; readonly minReplicas?: number } = cluster.dnsAutoscaler || {};
  const min = settings.minReplicas ?? Math.min(2, cluster.controlPlane.length + cluster.workers.length);
  return { coresPerReplica: settings.coresPerReplica ?? 256, nodesPerReplica: settings.nodesPerReplica ?? 16, min, preventSinglePointFailure: min > 1 };
}

/**
 * kubespray's dns-autoscaler for a kubeadm cluster, as one JSON manifest (a List): its ServiceAccount and
 * RBAC, its parameters as the ConfigMap it reads on every poll (so a changed setting reaches a running
 * autoscaler, which only writes `--default-params` into a ConfigMap it does not find), and its Deployment,
 * which scales kubeadm's `coredns` Deployment.
 */
export function dnsAutoscalerManifest(cluster: Pick<Cluster, 'controlPlane' | 'workers' | 'dnsAutoscaler'>): string {
  const linear = dnsAutoscalerParameters(cluster);
  const labels = { 'k8s-app': 'dns-autoscaler', 'app.kubernetes.io/managed-by': 'onboarder' };
  const metadata = (name: string, namespaced = true) => ({ name, ...(namespaced ? { namespace: 'kube-system' } : {}), labels });
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata('dns-autoscaler') },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: metadata('system:dns-autoscaler', false),
        rules: [
          { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] },
          { apiGroups: [''], resources: ['replicationcontrollers/scale'], verbs: ['get', 'update'] },
          { apiGroups: ['apps'], resources: ['deployments/scale', 'replicasets/scale'], verbs: ['get', 'update'] },
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: metadata('system:dns-autoscaler', false),
        subjects: [{ kind: 'ServiceAccount', name: 'dns-autoscaler', namespace: 'kube-system' }],
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:dns-autoscaler' },
      },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: metadata('dns-autoscaler'), data: { linear: JSON.stringify(linear) } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: metadata('dns-autoscaler'),
        spec: {
          selector: { matchLabels: { 'k8s-app': 'dns-autoscaler' } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: 'dns-autoscaler',
              priorityClassName: 'system-cluster-critical',
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              securityContext: { seccompProfile: { type: 'RuntimeDefault' }, supplementalGroups: [65534], fsGroup: 65534 },
              tolerations: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
              containers: [
                {
                  name: 'autoscaler',
                  image: dnsAutoscalerImage,
                  resources: { requests: { cpu: '20m', memory: '10Mi' } },
                  readinessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' } },
                  command: ['/cluster-proportional-autoscaler', '--namespace=kube-system', `--default-params=${JSON.stringify({ linear })}`, '--logtostderr=true', '--v=2', '--configmap=dns-autoscaler', '--target=Deployment/coredns'],
                },
              ],
            },
          },
        },
      },
    ],
  });
}
