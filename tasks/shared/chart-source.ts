import path from 'node:path';
import { chartFile } from '../../images/manifest.js';
import type { ToolContext } from '../../lib/tools/command.js';
import type { HelmRegistryAccess } from '../../lib/tools/kubernetes.js';
import type { Environment } from '../../environments/schema.js';
import { mirrored, mirrorOf } from '../images/download.js';
import type { ChartRelease } from './chart-releases.js';
import { siteRegistryAccess } from './kit.js';

/** Cilium's chart, installed by the Kubernetes step of a kubeadm cluster (not a platform release). */
export const ciliumChart = { release: 'cilium', chart: 'cilium/cilium' } as const;

/** What helm is given for a chart: the chart argument, and how to reach its registry where it is an OCI one. */
export interface ChartSource {
  readonly chart: string;
  readonly registry?: HelmRegistryAccess;
}

/**
 * Where helm takes a release's chart from, to install it at the site or to render it where the bundle is
 * made (bundle:find-images, bundle:create), the one decision for both:
 * - a repository chart: its package under images/charts/, which images:fetch brought and verified against
 *   its publisher's digest and the lock, on connected and air-gapped sites alike (no helm repository needs
 *   configuring on the operator's machine, and what is installed is what was verified);
 * - an OCI chart: installed at an air-gapped site from the site registry (which bundle:load filled), with
 *   its CA and credentials, or, at one without, through the mirror it names for the chart's registry
 *   (registryMirrors, which the environment's load requires there, with its CA); otherwise, and always where a bundle is
 *   made (online), from its registry through the environment's upstream mirrors.
 */
export function chartSource(context: ToolContext & { readonly config: Environment }, release: { readonly release: string; readonly chart: ChartRelease['chart'] }, version: string, purpose: 'install' | 'bundle'): ChartSource {
  const { config, root } = context;
  if (!release.chart.startsWith('oci://')) return { chart: path.resolve(root, chartFile(release.release, version)) };
  const siteRegistry = purpose === 'install' ? siteRegistryAccess(context) : undefined;
  if (siteRegistry) return { chart: release.chart.replace(/^oci:\/\/[^/]+/, `oci://${siteRegistry.host}`), registry: siteRegistry };
  const reference = release.chart.slice('oci://'.length);
  const siteMirror = purpose === 'install' && config.site.airGapped ? config.registryMirrors.find((entry) => entry.registry === reference.split('/')[0]) : undefined;
  if (siteMirror) {
    const mirror = new URL(siteMirror.mirror);
    const chart = `oci://${mirror.host}${mirror.pathname.replace(/\/+$/, '')}/${reference.slice(reference.indexOf('/') + 1)}`;
    return { chart, registry: { host: mirror.host, ...(mirror.protocol === 'http:' ? { plainHttp: true } : {}), ...(siteMirror.caFile ? { caFile: path.resolve(root, siteMirror.caFile) } : {}) } };
  }
  const through = mirrored(reference, config.upstreamMirrors);
  if (through === reference) return { chart: release.chart };
  const mirror = mirrorOf(reference, config.upstreamMirrors)!;
  const tls = mirror.caFile ? { caFile: path.resolve(root, mirror.caFile) } : mirror.insecure ? { insecureSkipTlsVerify: true } : {};
  return { chart: `oci://${through}`, registry: { host: through.split('/')[0]!, ...tls } };
}
