// Starts or stops the lab's test hosts: `npx tsx environments/lab-hosts.ts up|down` (as root: namespaces).
// The hosts keep running between commands; their state is in .cache/lab/rig.json. The first `up` on a
// machine makes the Debian root (debootstrap) and the package mirror: about 2 minutes; later ones, seconds.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestHostRig, type DetachedRig } from '../lib/lab/test-hosts.js';
import { labHostNames, labLoginUser, labMirrorPackages, labRigDirectory, labSubnet } from './lab.js';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const stateFile = path.join(root, '.cache', 'lab', 'rig.json');

async function up(): Promise<void> {
  if (existsSync(stateFile)) await down();
  const rig = await TestHostRig.start({
    count: labHostNames.length,
    names: labHostNames,
    directory: path.join(root, labRigDirectory),
    subnet: labSubnet,
    wholeMachines: { packages: labMirrorPackages },
  });
  // Onboarder logs in as a user with sudo, as on a site whose images have only their cloud user (ubuntu).
  for (const host of rig.hosts) await rig.addUser(host, labLoginUser, { sudo: true });
  const detached = rig.detach();
  writeFileSync(stateFile, JSON.stringify(detached, null, 1), { mode: 0o600 });
  for (const host of detached.hosts) console.log(`${host.name.padEnd(9)} ${host.address}:${host.port}`);
  console.log(`lab is up: npx tsx deploy.ts --env lab hosts`);
}

async function down(): Promise<void> {
  if (!existsSync(stateFile)) return console.log('lab is not running');
  await TestHostRig.stopDetached(JSON.parse(readFileSync(stateFile, 'utf8')) as DetachedRig);
  rmSync(stateFile);
  rmSync(path.join(root, labRigDirectory), { recursive: true, force: true });
  console.log('lab is down');
}

const command = process.argv[2];
if (command === 'up') await up();
else if (command === 'down') await down();
else {
  console.error('usage: npx tsx environments/lab-hosts.ts up|down');
  process.exitCode = 2;
}
