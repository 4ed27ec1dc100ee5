import { writeFileSync } from 'node:fs';
import YAML from 'yaml';

/** One host of an Ansible inventory. */
export interface InventoryHost {
  readonly address?: string;
  readonly port?: number;
  readonly user?: string;
  readonly vars?: Readonly<Record<string, unknown>>;
}

export interface InventoryGroup {
  readonly hosts?: Readonly<Record<string, InventoryHost>>;
  readonly children?: readonly string[];
  readonly vars?: Readonly<Record<string, unknown>>;
}

/** A typed inventory: groups of hosts with variables. Written as YAML; never kept by hand. */
export interface Inventory {
  readonly groups: Readonly<Record<string, InventoryGroup>>;
  readonly vars?: Readonly<Record<string, unknown>>;
}

/** The inventory as Ansible's YAML format (`all:` with `children:`). */
export function inventoryYaml(inventory: Inventory): string {
  const children: Record<string, unknown> = {};
  for (const [name, group] of Object.entries(inventory.groups)) {
    const hosts: Record<string, unknown> = {};
    for (const [hostName, host] of Object.entries(group.hosts ?? {})) {
      hosts[hostName] = {
        ...(host.address ? { ansible_host: host.address } : {}),
        ...(host.port ? { ansible_port: host.port } : {}),
        ...(host.user ? { ansible_user: host.user } : {}),
        ...(host.vars ?? {}),
      };
    }
    children[name] = {
      ...(Object.keys(hosts).length ? { hosts } : {}),
      ...(group.children?.length ? { children: Object.fromEntries(group.children.map((child) => [child, {}])) } : {}),
      ...(group.vars ? { vars: group.vars } : {}),
    };
  }
  return YAML.stringify({ all: { ...(inventory.vars ? { vars: inventory.vars } : {}), children } });
}

export function writeInventory(file: string, inventory: Inventory): void {
  writeFileSync(file, inventoryYaml(inventory), { mode: 0o600 });
}
