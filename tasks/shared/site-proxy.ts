import type { ClusterConfig, Environment } from '../../environments/schema.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { secretValue } from './kit.js';

/**
 * What a cluster's nodes reach directly, never through the site's proxy (NO_PROXY, as Go, curl and Python
 * read it): loopback, the site's networks (which hold every machine: the environment is refused otherwise),
 * the site's zone and domain (each with its subdomains), the cluster's pod and service networks, in-cluster
 * names (`.svc`, `.cluster.local`), then `proxy.noProxy`. As kubespray's no_proxy, which lists the cluster's
 * hosts, its API address and networks; by networks, a node added later changes no node's list.
 */
export function directDestinations(config: Environment, cluster?: Pick<ClusterConfig, 'podCidr' | 'serviceCidr'>): string[] {
  const networks = config.networks.map((network) => network.cidr);
  const names = [config.dns.zone, config.site.domain, '.svc', '.cluster.local'];
  return [...new Set(['localhost', '127.0.0.1', ...networks, ...(cluster ? [cluster.podCidr, cluster.serviceCidr] : []), ...names, ...(config.proxy?.noProxy ?? [])])];
}

/**
 * The site's proxy as the programs on a cluster's nodes (or, without a cluster, a VM of the site: the golden
 * image's build) take it from their environment (upper and lower case: curl reads only http_proxy so, Go
 * and Python either), or {} where the site has none. A URL given
 * as a secret is read as one (redacted wherever it would show), and its digest is read so that a changed
 * one runs the steps that put it on the nodes again.
 */
export function proxyEnvironment(context: ToolContext & { readonly config: Environment }, cluster?: Pick<ClusterConfig, 'podCidr' | 'serviceCidr'>): Record<string, string> {
  const { proxy } = context.config;
  if (!proxy) return {};
  const url = (scheme: 'http' | 'https') => {
    const given = proxy[scheme] === undefined ? 'http' : scheme;
    const value = proxy[given]!;
    if (typeof value === 'string') return new URL(value).href;
    void context.config.secretDigests?.proxy?.[given];
    return context.secret(new URL(secretValue(context, value)).href);
  };
  const http = url('http');
  const https = url('https');
  const direct = directDestinations(context.config, cluster).join(',');
  return { HTTP_PROXY: http, HTTPS_PROXY: https, NO_PROXY: direct, http_proxy: http, https_proxy: https, no_proxy: direct };
}
