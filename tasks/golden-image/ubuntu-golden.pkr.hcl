# The golden template (VM 9001): a clone of the base template with updates and the guest agent, its package
# sources through the site's mirrors, cloud-init cleaned for reuse. Variables come from packer/variables.json, written by foundation:packer-config: packer
# logs in with the packer user's API token, made afresh on every run by foundation:packer-user.
packer {
  required_version = ">= 1.10.0"
  # Exactly the release images/manifest.ts fetches and verifies (packerProxmoxPlugin): packer loads it from
  # the plugin directory Onboarder unpacks it into, and downloads nothing.
  required_plugins {
    proxmox = {
      version = "1.2.2"
      source  = "github.com/hashicorp/proxmox"
    }
  }
}

variable "proxmox_url" {
  type = string
}

# The token's id, user@realm!tokenid.
variable "proxmox_username" {
  type = string
}

variable "proxmox_token" {
  type      = string
  sensitive = true
}

variable "proxmox_node" {
  type = string
}

variable "base_vm_id" {
  type = number
}

variable "golden_vm_id" {
  type = number
}

# Onboarder logs in as root (ssh.user): cloud-init authorizes its key for root as it is (disable_root false),
# without Ubuntu's "log in as ubuntu" command in front of it. Otherwise root stays closed.
variable "root_login" {
  type    = bool
  default = false
}

# The build VM's network card, on the VMs' bridge (tagged with vlan_tag where it is not ""), and its address
# by cloud-init: build_address as a CIDR with build_gateway and nameserver, or "dhcp" (the golden-image step
# passes them, from proxmox.templates.buildAddress and its network).
variable "bridge" {
  type    = string
  default = "vmbr0"
}

variable "vlan_tag" {
  type    = string
  default = ""
}

variable "build_address" {
  type    = string
  default = "dhcp"
}

variable "build_gateway" {
  type    = string
  default = ""
}

variable "nameserver" {
  type    = string
  default = ""
}

# The site's proxy for the build's downloads (its URL may hold credentials), "" for none; NO_PROXY beside it.
variable "http_proxy" {
  type      = string
  default   = ""
  sensitive = true
}

variable "https_proxy" {
  type      = string
  default   = ""
  sensitive = true
}

variable "no_proxy" {
  type    = string
  default = ""
}

# The site's upstream mirrors as apt-mirrors.py takes them (JSON, from tasks/shared/apt-mirrors.ts): the
# image's package sources are fetched through them from the build on.
variable "apt_mirrors" {
  type    = string
  default = "{}"
}

source "proxmox-clone" "golden" {
  proxmox_url          = var.proxmox_url
  username             = var.proxmox_username
  token                = var.proxmox_token
  node                 = var.proxmox_node
  clone_vm             = "ubuntu-base"
  vm_id                = var.golden_vm_id
  vm_name              = "ubuntu-golden"
  template_description = "OpenSpace golden image, built by Onboarder"
  ssh_username         = "ubuntu"
  ssh_timeout          = "20m"
  qemu_agent           = true
  nameserver           = var.nameserver

  network_adapters {
    model    = "virtio"
    bridge   = var.bridge
    vlan_tag = var.vlan_tag
  }

  ipconfig {
    ip      = var.build_address
    gateway = var.build_gateway
  }
}

build {
  sources = ["source.proxmox-clone.golden"]

  provisioner "file" {
    source      = "${path.root}/apt-mirrors.py"
    destination = "/tmp/onboarder-apt-mirrors.py"
  }

  provisioner "shell" {
    # Through the site's proxy where it has one (sudo -E keeps it, as the mirrors' JSON).
    environment_vars = concat(
      ["ONBOARDER_APT_MIRRORS=${var.apt_mirrors}", "DEBIAN_FRONTEND=noninteractive"],
      var.http_proxy == "" ? [] : ["http_proxy=${var.http_proxy}", "https_proxy=${var.https_proxy}", "no_proxy=${var.no_proxy}", "HTTP_PROXY=${var.http_proxy}", "HTTPS_PROXY=${var.https_proxy}", "NO_PROXY=${var.no_proxy}"],
    )
    inline = [
      "cloud-init status --wait",
      "sudo -E python3 /tmp/onboarder-apt-mirrors.py",
      "rm -f /tmp/onboarder-apt-mirrors.py",
      # Every source's failure is an error (apt only warns by default, and would upgrade from nothing).
      "sudo -E apt-get update -o APT::Update::Error-Mode=any",
      "sudo -E apt-get -y upgrade",
      "sudo -E apt-get install -y qemu-guest-agent",
      # Each clone makes its own SSH host keys at its first boot, and keeps them when a change of its
      # cloud-init settings (DNS, address) gives it a new instance id: known_hosts entries stay true.
      "sudo rm -f /etc/ssh/ssh_host_*",
      "printf 'ssh_deletekeys: false\\ndisable_root: ${! var.root_login}\\n' | sudo tee /etc/cloud/cloud.cfg.d/99-onboarder-host-keys.cfg",
      "sudo cloud-init clean --logs --seed",
      "sudo truncate -s 0 /etc/machine-id",
    ]
  }
}
