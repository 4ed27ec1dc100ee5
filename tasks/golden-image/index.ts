import path from 'node:path';
import { packerBuild, packerInit, packerPluginDirectory, packerValidate } from '../../lib/tools/packer.js';
import { packerProxmoxPlugin, packerProxmoxPluginFile } from '../../images/manifest.js';
import { fetched } from '../images/index.js';
import { baseTemplate, packerConfig } from '../foundation/index.js';
import { proxmoxOf, tasks, vmNetworkSettings, withoutProxmox } from '../shared/kit.js';
import type { Environment } from '../../environments/schema.js';
import type { ToolContext } from '../../lib/tools/command.js';
import { aptMirrorVars } from '../shared/apt-mirrors.js';
import { proxyEnvironment } from '../shared/site-proxy.js';

const template = 'tasks/golden-image/ubuntu-golden.pkr.hcl';

/**
 * The golden image's build VM's network card and address (packer's network_adapters and cloud-init ipconfig):
 * on the VMs' bridge, and with proxmox.templates.buildAddress, that address on its network (tagged with the
 * network's VLAN where the bridge tags), its gateway and the site's DNS servers; without it, DHCP untagged.
 */
export function buildNetwork(config: Environment): { bridge: string; vlan_tag: string; build_address: string; build_gateway: string; nameserver: string } {
  const proxmox = proxmoxOf(config);
  const address = proxmox.templates.buildAddress;
  if (!address) return { bridge: proxmox.vmBridge.name, vlan_tag: '', build_address: 'dhcp', build_gateway: '', nameserver: '' };
  // As every VM of the site gets its network (cluster-vms).
  const { vlan_id, gateway, prefix_length } = vmNetworkSettings(config, address);
  return {
    bridge: proxmox.vmBridge.name,
    vlan_tag: vlan_id ? String(vlan_id) : '',
    build_address: `${address}/${prefix_length}`,
    build_gateway: gateway,
    nameserver: config.dns.servers.map((server) => server.address).join(' '),
  };
}

/**
 * How the build VM downloads its updates and the guest agent: through the site's proxy (a URL with
 * credentials is a secret, redacted) and its upstream mirrors (apt-mirrors.py, which the image keeps).
 */
export function buildDownloads(context: ToolContext & { readonly config: Environment }): { http_proxy: string; https_proxy: string; no_proxy: string; apt_mirrors: string } {
  const proxy = proxyEnvironment(context);
  return { http_proxy: proxy.http_proxy ?? '', https_proxy: proxy.https_proxy ?? '', no_proxy: proxy.no_proxy ?? '', apt_mirrors: JSON.stringify(aptMirrorVars(context.config, context.root)) };
}

/** The golden template 9001: packer build from the base template. */
export const goldenImage = tasks.task({
  name: 'golden-image',
  description: 'packer build of golden template 9001 from the base template',
  supportsDryRun: true,
  skipWhen: withoutProxmox,
  // packer clones the base template, logging in with the packer user's configuration.
  // ...with the Proxmox plugin from its verified release zip.
  deps: (_inputs, config) => [baseTemplate, packerConfig, ...fetched(config, ['packer-plugin-proxmox'])],
  estimate: '7.5m',
  sources: [template, 'tasks/golden-image/apt-mirrors.py'],
  tools: ['packer'],
  timeout: '1h',
  pool: 'proxmox-api',
  run: async (context) => {
    const { config } = context;
    const plugins = await packerPluginDirectory(context, path.join(context.root, '.cache', 'state', config.name, 'packer', 'plugins'), [
      { source: packerProxmoxPlugin.source, file: path.resolve(context.root, packerProxmoxPluginFile) },
    ]);
    const options = {
      template: path.resolve(context.root, template),
      env: plugins,
      varFiles: [path.join(context.root, '.cache', 'state', config.name, 'packer', 'variables.json')],
      // Whether cloud-init authorizes the operator's key for root as it is: where Onboarder logs in as root.
      vars: { root_login: config.ssh.user === 'root', ...buildNetwork(config), ...buildDownloads(context) },
    };
    await packerInit(context, options);
    await packerValidate(context, options);
    await packerBuild(context, { ...options, force: true, onError: 'cleanup' });
  },
});
