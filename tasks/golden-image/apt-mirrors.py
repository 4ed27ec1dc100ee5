"""The golden image's package sources through the site's upstream mirrors, before its build installs anything.

What tasks/shared/playbooks/includes/apt-mirrors.yml does on a node, for a build VM that has no Ansible:
every URI of /etc/apt/sources.list and sources.list.d/*.list|*.sources that starts with a mirror's prefix is
fetched from the mirror followed by the rest, the first mirror that matches deciding (a URI without its
trailing slash matches as if it had one); the mirrors' CAs and insecure settings become apt settings for
their hosts; the mirrors are noted in /etc/onboarder/apt-mirrors.json, from which node preparation takes
them over. The template keeps all of it: its clones fetch from the site's mirrors from their first boot.

Input: the environment variable ONBOARDER_APT_MIRRORS, JSON {"apt_mirrors": [{prefix, mirror}],
"apt_mirror_hosts": [{host, ca_file}], "apt_mirror_cas": [{file, pem}]} (tasks/shared/apt-mirrors.ts).
Argument: the root to work in (/ by default; the tests give another).
"""

import glob
import json
import os
import re
import sys


def through_mirrors(text, mirrors):
    def rewrite(token):
        slashed = token if token.endswith("/") else token + "/"
        for entry in mirrors:
            if slashed.startswith(entry["prefix"]):
                uri = entry["mirror"] + slashed[len(entry["prefix"]):]
                return uri[:-1] if uri.endswith("/") and not token.endswith("/") else uri
        return token

    return "".join(rewrite(token) for token in re.findall(r"\S+|\s+", text))


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, mode)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "/"
    given = json.loads(os.environ.get("ONBOARDER_APT_MIRRORS") or "{}")
    mirrors = given.get("apt_mirrors", [])
    if not mirrors:
        return
    at = lambda path: os.path.join(root, path.lstrip("/"))
    for ca in given.get("apt_mirror_cas", []):
        write(at(ca["file"]), ca["pem"])
    hosts = given.get("apt_mirror_hosts", [])
    if hosts:
        lines = ["// Managed by Onboarder: the site's upstreamMirrors."]
        for entry in hosts:
            if entry["ca_file"]:
                lines.append(f'Acquire::https::{entry["host"]}::CAInfo "{entry["ca_file"]}";')
            else:
                lines.append(f'Acquire::https::{entry["host"]}::Verify-Peer "false";')
                lines.append(f'Acquire::https::{entry["host"]}::Verify-Host "false";')
        write(at("/etc/apt/apt.conf.d/90onboarder-mirrors"), "\n".join(lines) + "\n")
    sources = [at("/etc/apt/sources.list")] + sorted(glob.glob(at("/etc/apt/sources.list.d/*.list")) + glob.glob(at("/etc/apt/sources.list.d/*.sources")))
    for path in sources:
        if os.path.basename(path) == "kubernetes.list" or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as file:
            text = file.read()
        write(path, through_mirrors(text, mirrors))
    write(at("/etc/onboarder/apt-mirrors.json"), json.dumps(mirrors) + "\n")


main()
