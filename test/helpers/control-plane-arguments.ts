// What Onboarder's kubeadm control plane runs with (tasks/kubernetes/playbooks/vars/kubeadm-apiserver.yml,
// the environment's `audit` at its defaults), as the tests expect it.

/** The API servers' arguments: Secrets encrypted at rest, the audit log, no profiling. */
export const apiServerArguments = {
  'encryption-provider-config': '/etc/kubernetes/pki/secrets-encryption.yaml',
  'audit-policy-file': '/etc/kubernetes/audit/policy.yaml',
  'audit-log-path': '/var/log/kubernetes/audit/kube-apiserver.log',
  'audit-log-maxage': '30',
  'audit-log-maxbackup': '10',
  'audit-log-maxsize': '100',
  profiling: 'false',
};

/** The controller manager's and the scheduler's: their metrics on the node's address, for kube-prometheus-stack; no profiling. */
export const metricsArguments = { 'bind-address': '0.0.0.0', profiling: 'false' };

/** etcd's: its metrics on every address; kubespray's heartbeat, election timeout and compaction. */
export const etcdArguments = { 'listen-metrics-urls': 'http://0.0.0.0:2381', 'heartbeat-interval': '250', 'election-timeout': '5000', 'auto-compaction-retention': '8' };
