// The hosts' package sources through the site's upstream mirrors (tasks/shared/playbooks/includes/apt-mirrors.yml),
// run by real Ansible into an overlay of the lab's Debian root (the chroot connection): its own sources,
// an Ubuntu deb822 file beside them, and Onboarder's own kubernetes.list, which stays as it is.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as assert from 'uvu/assert';
import { suite } from '../helpers/suite.js';
import { repositoryRoot, withTimeout } from '../helpers/project.js';
import { debianRoot } from '../../lib/lab/debian-root.js';

const run = promisify(execFile);

interface Context {
  scratch: string;
  root: string;
}
const test = suite<Context>("package sources through the site's mirrors, by real Ansible in a Debian root");

test.before(async (context) => {
  const lower = await debianRoot(path.join(repositoryRoot, '.cache', 'lab', 'debian'));
  context.scratch = mkdtempSync(path.join(os.tmpdir(), 'onboarder-apt-mirrors-'));
  for (const part of ['upper', 'work', 'merged']) mkdirSync(path.join(context.scratch, part));
  context.root = path.join(context.scratch, 'merged');
  await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${path.join(context.scratch, 'upper')},workdir=${path.join(context.scratch, 'work')}`, context.root]);
  writeFileSync(path.join(context.scratch, 'apply.yml'), `- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_tasks: ${path.join(repositoryRoot, 'tasks', 'shared', 'playbooks', 'includes', 'apt-mirrors.yml')}\n`);
  // Sources as an image has them, and the Kubernetes line Onboarder writes itself.
  mkdirSync(path.join(context.root, 'etc', 'apt', 'sources.list.d'), { recursive: true });
  writeFileSync(at(context, '/etc/apt/sources.list'), 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian-security bookworm-security main\n');
  writeFileSync(at(context, '/etc/apt/sources.list.d/ubuntu.sources'), 'Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.ubuntu.com/ubuntu\nSuites: noble-security\n');
  writeFileSync(at(context, '/etc/apt/sources.list.d/kubernetes.list'), 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] https://pkgs.k8s.io/core:/stable:/v1.30/deb/ /\n');
});

test.after(async (context) => {
  if (context.root) await run('umount', [context.root]).catch(() => undefined);
  if (context.scratch) rmSync(context.scratch, { recursive: true, force: true });
});

function at(context: Context, file: string): string {
  return path.join(context.root, file);
}

/** Runs the include with these mirrors; returns the recap's changed count. */
async function apply(context: Context, mirrors: { prefix: string; mirror: string }[], hosts: { host: string; ca_file: string }[] = [], cas: { file: string; pem: string }[] = []): Promise<number> {
  const vars = JSON.stringify({ apt_mirrors: mirrors, apt_mirror_hosts: hosts, apt_mirror_cas: cas });
  const { stdout } = await run('ansible-playbook', ['-i', `${context.root},`, '-c', 'community.general.chroot', path.join(context.scratch, 'apply.yml'), '-e', vars], { env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
  return Number(/changed=(\d+)/.exec(stdout)![1]);
}

const read = (context: Context, file: string) => readFileSync(at(context, file), 'utf8');
const kubernetesLine = 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.asc] https://pkgs.k8s.io/core:/stable:/v1.30/deb/ /\n';

const firstMirrors = [
  { prefix: 'http://deb.debian.org/debian/', mirror: 'http://10.0.0.1:8080/' },
  { prefix: 'http://archive.ubuntu.com/ubuntu/', mirror: 'https://nexus.corp.example/repository/ubuntu/' },
  // A catch-all after them does not take what they rewrote.
  { prefix: 'http://', mirror: 'https://artifactory.corp.example/remote/' },
  { prefix: 'https://', mirror: 'https://artifactory.corp.example/remote/' },
];
const firstHosts = [{ host: 'nexus.corp.example', ca_file: '/etc/onboarder/mirror-ca/nexus.corp.example.crt' }, { host: 'artifactory.corp.example', ca_file: '' }];
const firstCas = [{ file: '/etc/onboarder/mirror-ca/nexus.corp.example.crt', pem: '-----BEGIN CERTIFICATE-----\nthe corp CA\n-----END CERTIFICATE-----\n' }];
/** What Ansible wrote with the first mirrors, which the golden image's script must write too. */
const firstResult = new Map<string, string>();

test('every URI that starts with a prefix is fetched from its mirror, the first that matches deciding; a URI without its trailing slash matches; the rest stays; a second run changes nothing', withTimeout(120_000, async (context: Context) => {
  const [mirrors, hosts, cas] = [firstMirrors, firstHosts, firstCas];
  assert.ok((await apply(context, mirrors, hosts, cas)) > 0);
  for (const file of ['/etc/apt/sources.list', '/etc/apt/sources.list.d/ubuntu.sources', '/etc/apt/sources.list.d/kubernetes.list', '/etc/apt/apt.conf.d/90onboarder-mirrors', '/etc/onboarder/mirror-ca/nexus.corp.example.crt', '/etc/onboarder/apt-mirrors.json']) firstResult.set(file, read(context, file));
  assert.is(read(context, '/etc/apt/sources.list'), 'deb http://10.0.0.1:8080 bookworm main\ndeb https://artifactory.corp.example/remote/deb.debian.org/debian-security bookworm-security main\n');
  assert.is(read(context, '/etc/apt/sources.list.d/ubuntu.sources'), 'Types: deb\nURIs: https://nexus.corp.example/repository/ubuntu/\nSuites: noble noble-updates\nComponents: main\n\nTypes: deb\nURIs: https://artifactory.corp.example/remote/security.ubuntu.com/ubuntu\nSuites: noble-security\n');
  assert.is(read(context, '/etc/apt/sources.list.d/kubernetes.list'), kubernetesLine, "Onboarder's own line is the Kubernetes step's");
  assert.is(read(context, '/etc/apt/apt.conf.d/90onboarder-mirrors'), '// Managed by Onboarder: the site\'s upstreamMirrors.\nAcquire::https::nexus.corp.example::CAInfo "/etc/onboarder/mirror-ca/nexus.corp.example.crt";\nAcquire::https::artifactory.corp.example::Verify-Peer "false";\nAcquire::https::artifactory.corp.example::Verify-Host "false";\n');
  assert.is(read(context, '/etc/onboarder/mirror-ca/nexus.corp.example.crt'), cas[0]!.pem);
  assert.is(await apply(context, mirrors, hosts, cas), 0, 'nothing changes the second time');
}));

test("the golden image's build rewrites the same sources the same way (apt-mirrors.py, for a VM without Ansible), and notes the mirrors for node preparation", withTimeout(60_000, async (context: Context) => {
  const image = path.join(context.scratch, 'image');
  mkdirSync(path.join(image, 'etc', 'apt', 'sources.list.d'), { recursive: true });
  writeFileSync(path.join(image, 'etc', 'apt', 'sources.list'), 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian-security bookworm-security main\n');
  writeFileSync(path.join(image, 'etc', 'apt', 'sources.list.d', 'ubuntu.sources'), 'Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.ubuntu.com/ubuntu\nSuites: noble-security\n');
  writeFileSync(path.join(image, 'etc', 'apt', 'sources.list.d', 'kubernetes.list'), kubernetesLine);
  await run('python3', [path.join(repositoryRoot, 'tasks', 'golden-image', 'apt-mirrors.py'), image], { env: { ...process.env, ONBOARDER_APT_MIRRORS: JSON.stringify({ apt_mirrors: firstMirrors, apt_mirror_hosts: firstHosts, apt_mirror_cas: firstCas }) } });
  const inImage = (file: string) => readFileSync(path.join(image, file), 'utf8');
  for (const file of ['/etc/apt/sources.list', '/etc/apt/sources.list.d/ubuntu.sources', '/etc/apt/sources.list.d/kubernetes.list', '/etc/apt/apt.conf.d/90onboarder-mirrors', '/etc/onboarder/mirror-ca/nexus.corp.example.crt']) {
    assert.is(inImage(file), firstResult.get(file), file);
  }
  assert.equal(JSON.parse(inImage('/etc/onboarder/apt-mirrors.json')), firstMirrors);
  // What Ansible's to_json writes, byte for byte: node preparation's first run on a clone changes nothing there.
  assert.is(inImage('/etc/onboarder/apt-mirrors.json'), firstResult.get('/etc/onboarder/apt-mirrors.json'));
}));

test('another mirror, and an edit of the sources in between (a release upgrade): the old mirror leaves nothing, the edit stays', withTimeout(120_000, async (context: Context) => {
  writeFileSync(at(context, '/etc/apt/sources.list'), read(context, '/etc/apt/sources.list').replace('bookworm main', 'trixie main'));
  await apply(context, [{ prefix: 'http://deb.debian.org/', mirror: 'http://apt.site.example/' }]);
  assert.is(read(context, '/etc/apt/sources.list'), 'deb http://apt.site.example/debian trixie main\ndeb http://apt.site.example/debian-security bookworm-security main\n');
  assert.is(read(context, '/etc/apt/sources.list.d/ubuntu.sources'), 'Types: deb\nURIs: http://archive.ubuntu.com/ubuntu/\nSuites: noble noble-updates\nComponents: main\n\nTypes: deb\nURIs: http://security.ubuntu.com/ubuntu\nSuites: noble-security\n');
  assert.not.ok(existsSync(at(context, '/etc/apt/apt.conf.d/90onboarder-mirrors')), 'no TLS settings for mirrors the site no longer has');
  assert.not.ok(existsSync(at(context, '/etc/onboarder/mirror-ca/nexus.corp.example.crt')), 'nor their CAs');
}));

test("no mirrors any more: the publishers' URIs come back; then nothing runs", withTimeout(120_000, async (context: Context) => {
  await apply(context, []);
  assert.is(read(context, '/etc/apt/sources.list'), 'deb http://deb.debian.org/debian trixie main\ndeb http://deb.debian.org/debian-security bookworm-security main\n');
  assert.is(read(context, '/etc/onboarder/apt-mirrors.json'), '[]\n');
  assert.is(await apply(context, []), 0);
  assert.is(read(context, '/etc/apt/sources.list.d/kubernetes.list'), kubernetesLine);
}));

test.run();
