# The VMs of one cluster on Proxmox, cloned from the golden template. One workspace per cluster.
terraform {
  required_version = ">= 1.6"
  required_providers {
    # Exactly the version images/manifest.ts fetches and verifies (tofuProxmoxProvider): it is installed from
    # that package alone.
    proxmox = {
      source  = "bpg/proxmox"
      version = "0.69.0"
    }
  }
  backend "local" {}
}

variable "proxmox_endpoint" {
  type = string
}

variable "proxmox_api_token" {
  type      = string
  sensitive = true
}

variable "template_vm_id" {
  type = number
}

variable "storage" {
  type = string
}

# Each VM with the network its address is on: the VLAN its card is tagged with (0: untagged), the gateway and
# the prefix length (a cluster's nodes may be on several networks).
variable "nodes" {
  type = list(object({
    name          = string
    address       = string
    vm_id         = number
    cores         = number
    memory        = number
    disk          = number
    node_name     = string
    vlan_id       = number
    gateway       = string
    prefix_length = number
  }))
}

# The Proxmox bridge the VMs' network card is on.
variable "bridge" {
  type = string
}

# The site's DNS servers and its zone: a VM resolves through them from its first boot (node-prep keeps it so).
variable "dns_servers" {
  type = list(string)
}

variable "dns_domain" {
  type = string
}

# Who Onboarder logs in as (ssh.user) and the operator's public key it logs in with: cloud-init authorizes it
# at the VM's first boot. The VM's host key goes into known_hosts through the guest agent (cluster-vms).
variable "ssh_user" {
  type = string
}

variable "ssh_keys" {
  type = list(string)
}

provider "proxmox" {
  endpoint  = var.proxmox_endpoint
  api_token = var.proxmox_api_token
  insecure  = false
}

resource "proxmox_virtual_environment_vm" "node" {
  for_each  = { for node in var.nodes : node.name => node }
  name      = each.value.name
  vm_id     = each.value.vm_id
  node_name = each.value.node_name

  # A change of cores or memory stays pending in Proxmox: cluster-vms restarts those VMs one at a time, each
  # drained first, instead of every changed VM restarting at once here.
  reboot_after_update = false

  clone {
    vm_id = var.template_vm_id
  }

  # The template a VM was cloned from matters at its creation only: a new golden image (another
  # template_vm_id) is what VMs created from then on start from, and never re-creates the existing ones
  # (clone is ForceNew in the provider); those get their updates as running nodes (os-patches).
  lifecycle {
    ignore_changes = [clone]
  }

  cpu {
    cores = each.value.cores
  }

  network_device {
    bridge  = var.bridge
    vlan_id = each.value.vlan_id
  }

  memory {
    dedicated = each.value.memory
  }

  disk {
    datastore_id = var.storage
    interface    = "scsi0"
    size         = each.value.disk
  }

  initialization {
    # The cloud-init drive on the VMs' storage: the provider's default is local-lvm, which a node installed
    # on ZFS lacks, and a drive on a node's local storage keeps the VM from migrating.
    datastore_id = var.storage
    user_account {
      username = var.ssh_user
      keys     = var.ssh_keys
    }
    dns {
      domain  = var.dns_domain
      servers = var.dns_servers
    }
    ip_config {
      ipv4 {
        address = "${each.value.address}/${each.value.prefix_length}"
        gateway = each.value.gateway
      }
    }
  }
}

output "addresses" {
  value = { for name, vm in proxmox_virtual_environment_vm.node : name => vm.ipv4_addresses }
}
