// The container images each chart runs at its version, installed with the values the catalog gives it: what
// an air-gapped site's registry must hold for the chart to start (Zarf lists a package's images so; its
// `zarf dev find-images` renders the charts to find them). Keyed `<chart>@<version>`, references with their
// tag and, where the chart itself pins one in its values.yaml, the digest it pins (`tag@sha256:...`): that
// digest is the publisher's, and the bundle copies the image by it. An image without one takes its
// registry's digest at the first fetch, recorded in images/manifest.lock.json.
//
// `tsx deploy.ts bundle:find-images` (on a machine with helm: the runner image has it) renders each chart
// of the environment's versions with `helm template` and prints the lines to add; bundle:create refuses a
// bundle whose charts run an image this table does not list. Images an operator starts from its arguments
// (Prometheus' config reloader, cert-manager's ACME solver) are not `image:` fields of what helm renders:
// they are listed here by hand from the flag that names them, and find-images keeps them.
//
// Where each line comes from (each chart's values.yaml and templates at the release's tag, read with the
// catalog's values: tasks/shared/chart-releases.ts and cilium-values.ts):
// - cilium 1.16.1: cilium/charts cilium-1.16.1.tgz (the package pinned in manifest.ts); the agent, the
//   generic operator and, Envoy's DaemonSet being on by default from 1.16, cilium-envoy. Hubble's relay and
//   UI, clustermesh, nodeinit and SPIRE are off. Digests: values.yaml's `digest` and `genericDigest`.
// - ingress-nginx 4.11.2: kubernetes/ingress-nginx tag helm-chart-4.11.2; the controller (not chroot) and the
//   admission webhook's certgen job. Digests: values.yaml's `digest`.
// - kube-prometheus-stack 62.3.1: prometheus-community/helm-charts tag kube-prometheus-stack-62.3.1 (operator
//   and reloader at the chart's appVersion v0.76.0, certgen, Alertmanager and Prometheus as its custom
//   resources name them), with its dependencies as packaged then: kube-state-metrics 5.25.1 (v2.13.0),
//   prometheus-node-exporter 4.39.0 (v1.8.2), and grafana/helm-charts grafana 8.4.9 (its Chart.yaml asks 8.4.*,
//   and 8.4.9, 2024-08-28, is the last 8.4 tag: 8.5.0 followed five minutes later; Grafana 11.1.5, k8s-sidecar
//   1.27.4; no persistence, so no busybox). kube-state-metrics 5.25.0 and 5.25.1 both run v2.13.0.
//   Thanos is named only as the operator's default for a sidecar the catalog does not configure.
// - cert-manager v1.15.3: cert-manager/cert-manager tag v1.15.3, deploy/charts/cert-manager: the four
//   components and the ACME HTTP-01 solver (`--acme-http01-solver-image`).
// - velero 7.2.1: vmware-tanzu/helm-charts tag velero-7.2.1: Velero (server and node agent). Its CRD upgrade
//   job, whose kubectl image Bitnami no longer publishes, is off: platform-services applies the chart's CRDs
//   itself. The AWS plugin is the environment's own version (manifest.ts carries it).
// - metrics-server 3.12.2: kubernetes-sigs/metrics-server tag metrics-server-helm-chart-3.12.2 (v0.7.2; the
//   addon resizer is off).
// - kubelet-csr-approver 1.1.0: postfinance/kubelet-csr-approver, the chart packaged on its gh-pages branch
//   (appVersion v1.1.0).
// - proxmox-csi-plugin 0.2.8: sergelogvinov/proxmox-csi-plugin charts/proxmox-csi-plugin at version 0.2.8
//   (appVersion v0.7.0) with the CSI sidecars its values name.

export const chartImages: Readonly<Record<string, readonly string[]>> = {
  'cilium@1.16.1': [
    'quay.io/cilium/cilium:v1.16.1@sha256:0b4a3ab41a4760d86b7fc945b8783747ba27f29dac30dd434d94f2c9e3679f39',
    'quay.io/cilium/operator-generic:v1.16.1@sha256:3bc7e7a43bc4a4d8989cb7936c5d96675dd2d02c306adf925ce0a7c35aa27dc4',
    'quay.io/cilium/cilium-envoy:v1.29.7-39a2a56bbd5b3a591f69dbca51d3e30ef97e0e51@sha256:bd5ff8c66716080028f414ec1cb4f7dc66f40d2fb5a009fff187f4a9b90b566b',
  ],
  'ingress-nginx@4.11.2': [
    'registry.k8s.io/ingress-nginx/controller:v1.11.2@sha256:d5f8217feeac4887cb1ed21f27c2674e58be06bd8f5184cacea2a69abaf78dce',
    'registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.4.3@sha256:a320a50cc91bd15fd2d6fa6de58bd98c1bd64b9a6f926ce23a600d87043455a3',
  ],
  'kube-prometheus-stack@62.3.1': [
    'quay.io/prometheus-operator/prometheus-operator:v0.76.0',
    'quay.io/prometheus-operator/prometheus-config-reloader:v0.76.0',
    'registry.k8s.io/ingress-nginx/kube-webhook-certgen:v20221220-controller-v1.5.1-58-g787ea74b6',
    'quay.io/prometheus/alertmanager:v0.27.0',
    'quay.io/prometheus/prometheus:v2.54.1',
    'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.13.0',
    'quay.io/prometheus/node-exporter:v1.8.2',
    'docker.io/grafana/grafana:11.1.5',
    'quay.io/kiwigrid/k8s-sidecar:1.27.4',
  ],
  'cert-manager@v1.15.3': [
    'quay.io/jetstack/cert-manager-controller:v1.15.3',
    'quay.io/jetstack/cert-manager-webhook:v1.15.3',
    'quay.io/jetstack/cert-manager-cainjector:v1.15.3',
    'quay.io/jetstack/cert-manager-startupapicheck:v1.15.3',
    'quay.io/jetstack/cert-manager-acmesolver:v1.15.3',
  ],
  'velero@7.2.1': ['docker.io/velero/velero:v1.14.1'],
  'metrics-server@3.12.2': ['registry.k8s.io/metrics-server/metrics-server:v0.7.2'],
  'kubelet-csr-approver@1.1.0': ['ghcr.io/postfinance/kubelet-csr-approver:v1.1.0'],
  'proxmox-csi-plugin@0.2.8': [
    'ghcr.io/sergelogvinov/proxmox-csi-controller:v0.7.0',
    'ghcr.io/sergelogvinov/proxmox-csi-node:v0.7.0',
    'registry.k8s.io/sig-storage/csi-attacher:v4.4.4',
    'registry.k8s.io/sig-storage/csi-provisioner:v3.6.4',
    'registry.k8s.io/sig-storage/csi-resizer:v1.9.4',
    'registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.9.4',
    'registry.k8s.io/sig-storage/livenessprobe:v2.11.0',
  ],
};
