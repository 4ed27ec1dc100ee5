import YAML from 'yaml';
import { chartImages } from '../../images/chart-images.js';
import { artifactsFor } from '../../images/manifest.js';
import { helmTemplate } from '../../lib/tools/kubernetes.js';
import { everyRelease, veleroCredentialsFile } from '../shared/chart-releases.js';
import { ciliumValues } from '../shared/cilium-values.js';
import { chartSource, ciliumChart, type ChartSource } from '../shared/chart-source.js';
import { clustersOf } from '../shared/kit.js';
import type { BundleContext } from './stage-artifacts.js';

/** The images one chart runs, as rendered, and those of them the manifest does not list. */
export interface ChartImages {
  readonly chart: string;
  readonly version: string;
  readonly images: readonly string[];
  readonly missing: readonly string[];
}

/**
 * Renders every chart the environment installs (Cilium for its kubeadm clusters, the platform services) with
 * `helm template`, with the values the catalog installs it with and at the environment's Kubernetes version,
 * and lists the images in what it renders, as Zarf's `find-images` does; then which of them the manifest
 * (images/manifest.ts with images/chart-images.ts) does not carry. Charts come from where the install
 * takes them (chartSource): repository charts must have been fetched.
 */
export async function renderChartImages(context: BundleContext): Promise<ChartImages[]> {
  const { config } = context;
  const carried = new Set(artifactsFor(config.versions).flatMap((artifact) => (artifact.kind === 'image' ? [artifact.reference] : [])));
  const ciliumCluster = clustersOf(config).find((cluster) => cluster.distribution === 'kubeadm' && cluster.cni === 'cilium');
  const charts: { name: string; version: string; source: ChartSource; namespace: string; values: Readonly<Record<string, unknown>> }[] = [
    ...(ciliumCluster ? [{ name: 'cilium', version: config.versions.cilium, source: chartSource(context, ciliumChart, config.versions.cilium, 'bundle'), namespace: 'kube-system', values: ciliumValues(ciliumCluster) }] : []),
    // Every release, whatever this site installs: the manifest's images serve every site's shape.
    ...everyRelease
      .map((release) => {
        const version = config.versions.charts[release.release];
        // The images do not depend on the secrets: the chart is rendered with placeholders for them.
        const values = release.values({ config, cluster: clustersOf(config)[0]?.name ?? 'cluster', veleroCredentials: veleroCredentialsFile('(access key id)', '(secret access key)'), proxmoxCsiToken: { tokenId: '(token id)', token: '(token)' } });
        return { name: release.release, version, source: chartSource(context, release, version, 'bundle'), namespace: release.namespace, values };
      }),
  ];
  const found: ChartImages[] = [];
  for (const each of charts) {
    const rendered = await helmTemplate(context, { release: each.name, ...each.source, version: each.version, namespace: each.namespace, values: each.values, kubeVersion: config.versions.kubernetes });
    const images = imagesIn(rendered);
    found.push({ chart: each.name, version: each.version, images, missing: images.filter((image) => !carried.has(image)) });
  }
  return found;
}

/**
 * The images named in rendered manifests: every `image` field that is a string (containers, init and
 * ephemeral containers, and the odd custom resource that names one), as a registry reference with its tag
 * (`nginx:1.27` is `docker.io/library/nginx:1.27`; a digest after the tag is left out: the site registry
 * gets the tag's digest, which the copy keeps). Sorted, each once.
 */
export function imagesIn(manifests: string): string[] {
  const images = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'image' && typeof inner === 'string' && inner.trim() !== '') images.add(canonicalImage(inner.trim()));
        else visit(inner);
      }
    }
  };
  for (const document of YAML.parseAllDocuments(manifests)) visit(document.toJS());
  return [...images].sort();
}

/** `nginx` is `docker.io/library/nginx:latest`; a registry is the first part when it has a dot, a port or is localhost. */
export function canonicalImage(reference: string): string {
  const withoutDigest = reference.split('@')[0]!;
  const slash = withoutDigest.indexOf('/');
  const first = slash === -1 ? '' : withoutDigest.slice(0, slash);
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost';
  const named = hasRegistry ? withoutDigest : `docker.io/${slash === -1 ? 'library/' : ''}${withoutDigest}`;
  const lastPart = named.slice(named.lastIndexOf('/') + 1);
  return lastPart.includes(':') ? named : `${named}:latest`;
}

/**
 * The lines of images/chart-images.ts for the charts that run an image the bundle would not carry: each
 * chart's whole entry (what it lists already, its pinned digests and the images an operator starts from its
 * arguments kept, then what is missing), to put in place of its line.
 */
export function chartImageLines(found: readonly ChartImages[]): string[] {
  return found
    .filter((each) => each.missing.length > 0)
    .map((each) => {
      const listed = chartImages[`${each.chart}@${each.version}`] ?? [];
      const entry = [...listed, ...each.missing];
      return `  '${each.chart}@${each.version}': [${entry.map((image) => `'${image}'`).join(', ')}],`;
    });
}
