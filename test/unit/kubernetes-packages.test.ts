// Where a connected site's kubeadm nodes get their packages (tasks/kubernetes/kubernetes-packages.ts):
// pkgs.k8s.io's repository of the release's minor version, or the site's mirror of it; and how the hosts'
// apt reaches the site's mirrors (tasks/shared/apt-mirrors.ts).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { example } from '../../environments/example.js';
import { environmentSchema, type Environment } from '../../environments/schema.js';
import { kubernetesPackages, pkgsK8sIoSigningKey } from '../../tasks/kubernetes/kubernetes-packages.js';
import { aptMirrorVars } from '../../tasks/shared/apt-mirrors.js';

const site = (changes: Partial<Environment> = {}) => ({ ...(environmentSchema.parse(example) as Environment), ...changes });
const mirror = (entry: { prefix: string; mirror: string; insecure?: boolean; caFile?: string; signingKeys?: string[] }) => ({ insecure: false, ...entry });

test("pkgs.k8s.io's repository of the release's minor version, and its key", () => {
  assert.equal(kubernetesPackages(site()), { repository: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/', key: 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/Release.key', ca_file: '', validate_certs: true, key_fingerprints: ['DE15B14486CD377B9E876E1A234654DA9A296436'] });
  assert.is(kubernetesPackages(site({ versions: { ...site().versions, kubernetes: '1.31.2' } })).repository, 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/');
});

test("the site's mirror of it where upstreamMirrors names one", () => {
  const upstreamMirrors = [mirror({ prefix: 'https://pkgs.k8s.io/', mirror: 'https://nexus.corp.example/repository/pkgs-k8s-io/' })];
  assert.equal(kubernetesPackages(site({ upstreamMirrors })), { repository: 'https://nexus.corp.example/repository/pkgs-k8s-io/core:/stable:/v1.30/deb/', key: 'https://nexus.corp.example/repository/pkgs-k8s-io/core:/stable:/v1.30/deb/Release.key', ca_file: '', validate_certs: true, key_fingerprints: [pkgsK8sIoSigningKey] });
  // A mirror for other publishers only leaves pkgs.k8s.io as it is.
  assert.is(kubernetesPackages(site({ upstreamMirrors: [mirror({ prefix: 'https://get.helm.sh/', mirror: 'https://nexus.corp.example/helm/' })] })).repository, 'https://pkgs.k8s.io/core:/stable:/v1.30/deb/');
});

test("the key must be pkgs.k8s.io's, through a mirror too, unless the mirror names the keys it signs with itself (signingKeys, written as gpg prints them)", () => {
  const own = ['0123 4567 89ab CDEF 0123  4567 89AB CDEF 0123 4567', 'fedcba98765432100123456789abcdef01234567'];
  const parsed = environmentSchema.parse({ ...example, upstreamMirrors: [{ prefix: 'https://pkgs.k8s.io/', mirror: 'https://aptly.corp.example/k8s/', signingKeys: own }] }) as Environment;
  assert.equal(kubernetesPackages(parsed).key_fingerprints, ['0123456789ABCDEF0123456789ABCDEF01234567', 'FEDCBA98765432100123456789ABCDEF01234567']);
  // A mirror of other publishers' files, which names keys, does not speak for pkgs.k8s.io.
  const other = environmentSchema.parse({ ...example, upstreamMirrors: [{ prefix: 'https://get.helm.sh/', mirror: 'https://aptly.corp.example/helm/', signingKeys: own }] }) as Environment;
  assert.equal(kubernetesPackages(other).key_fingerprints, [pkgsK8sIoSigningKey]);
  const refused = environmentSchema.safeParse({ ...example, upstreamMirrors: [{ prefix: 'https://pkgs.k8s.io/', mirror: 'https://aptly.corp.example/k8s/', signingKeys: ['234654DA9A296436'] }] });
  assert.is(refused.success, false);
  assert.match(JSON.stringify(refused.error?.issues), "'234654DA9A296436' is not an OpenPGP key fingerprint: 40 hex digits");
  assert.equal(refused.error?.issues[0]?.path, ['upstreamMirrors', 0, 'signingKeys', 0]);
});

test("the key's fetch verifies the mirror with the CA node preparation put on the node, or not at all for an insecure one", () => {
  const through = (entry: { insecure?: boolean; caFile?: string }, url = 'https://nexus.corp.example:8443/k8s/') => kubernetesPackages(site({ upstreamMirrors: [mirror({ prefix: 'https://pkgs.k8s.io/', mirror: url, ...entry })] }));
  assert.equal([through({ caFile: 'corp-ca.pem' }).ca_file, through({ caFile: 'corp-ca.pem' }).validate_certs], ['/etc/onboarder/mirror-ca/nexus.corp.example.crt', true]);
  assert.equal([through({ insecure: true }).ca_file, through({ insecure: true }).validate_certs], ['', false]);
  // Over plain HTTP there is nothing to verify.
  assert.equal([through({ insecure: true }, 'http://nexus.corp.example/k8s/').ca_file, through({ insecure: true }, 'http://nexus.corp.example/k8s/').validate_certs], ['', true]);
});

test("the hosts' apt: every mirror of a URL (not of an image reference), and per host name (no port: apt's settings take none) its CA or none", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'onboarder-apt-mirrors-'));
  try {
    writeFileSync(path.join(root, 'corp-ca.pem'), 'the corp CA\n');
    const vars = aptMirrorVars({
      upstreamMirrors: [
        mirror({ prefix: 'http://archive.ubuntu.com/ubuntu/', mirror: 'https://nexus.corp.example:8443/repository/ubuntu/', caFile: 'corp-ca.pem' }),
        mirror({ prefix: 'https://pkgs.k8s.io/', mirror: 'https://artifactory.corp.example/pkgs-k8s-io/', insecure: true }),
        mirror({ prefix: 'http://security.ubuntu.com/', mirror: 'http://apt.site.example/security/', insecure: true }),
        mirror({ prefix: 'quay.io/', mirror: 'harbor.corp.example/quay/', insecure: true }),
      ],
    }, root);
    assert.equal(vars.apt_mirrors, [
      { prefix: 'http://archive.ubuntu.com/ubuntu/', mirror: 'https://nexus.corp.example:8443/repository/ubuntu/' },
      { prefix: 'https://pkgs.k8s.io/', mirror: 'https://artifactory.corp.example/pkgs-k8s-io/' },
      { prefix: 'http://security.ubuntu.com/', mirror: 'http://apt.site.example/security/' },
    ]);
    assert.equal(vars.apt_mirror_hosts, [{ host: 'nexus.corp.example', ca_file: '/etc/onboarder/mirror-ca/nexus.corp.example.crt' }, { host: 'artifactory.corp.example', ca_file: '' }]);
    assert.equal(vars.apt_mirror_cas, [{ file: '/etc/onboarder/mirror-ca/nexus.corp.example.crt', pem: 'the corp CA\n' }]);
    assert.equal(aptMirrorVars({ upstreamMirrors: [] }, root), { apt_mirrors: [], apt_mirror_hosts: [], apt_mirror_cas: [] });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
