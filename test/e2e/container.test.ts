import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from '../helpers/suite.js';
import * as assert from 'uvu/assert';
import { imageTag } from '../../lib/container/launcher.js';
import { repositoryRoot, waitFor, withTimeout } from '../helpers/project.js';
import { copyProject, runDeploy } from '../helpers/project-copy.js';

interface Context {
  directory: string;
  remove: () => void;
  scratch: string;
}
const test = suite<Context>('the --container launcher');

test.before((context) => {
  Object.assign(context, copyProject());
  for (const file of ['Containerfile', 'package-lock.json']) cpSync(path.join(repositoryRoot, file), path.join(context.directory, file));
  context.scratch = mkdtempSync(path.join(os.tmpdir(), 'onboarder-container-'));
});
test.after((context) => {
  context.remove();
  rmSync(context.scratch, { recursive: true, force: true });
});

const cli = runDeploy;

/** FAKE podman (no registry to build from here): records each call, keeps 'built' and 'saved' state in files. */
function fakeEngine(directory: string): { engine: string; calls: () => string[][] } {
  const engine = path.join(directory, 'fake-bin', 'podman');
  mkdirSync(path.dirname(engine), { recursive: true });
  const log = path.join(directory, 'fake-bin', 'calls');
  writeFileSync(
    engine,
    `#!/usr/bin/env node
// FAKE podman for the launcher's command-line tests.
const fs = require('fs');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(args) + '\\n');
const built = ${JSON.stringify(path.join(directory, 'fake-bin', 'built'))};
if (args[0] === '--version') process.exit(0);
if (args[0] === 'image' && args[1] === 'inspect') process.exit(fs.existsSync(built) ? 0 : 1);
if (args[0] === 'build' && process.env.FAKE_BUILD_FAILS) { console.error('fake build error'); process.exit(1); }
if (args[0] === 'build' || args[0] === 'load') { fs.writeFileSync(built, ''); process.exit(0); }
if (args[0] === 'save') { fs.writeFileSync(args[args.indexOf('--output') + 1], 'image'); process.exit(0); }
if (args[0] === 'run') { console.log('fake container ran'); process.exit(Number(process.env.FAKE_RUN_EXIT || 0)); }
process.exit(3);
`,
  );
  chmodSync(engine, 0o755);
  return { engine, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').map((line) => JSON.parse(line)) : []) };
}

test('builds once when missing, then runs with mounts, user, env by name and no TTY; the exit code passes through (FAKE podman)', withTimeout(120_000, async ({ directory, scratch }: Context) => {
  const fake = fakeEngine(path.join(scratch, 'fake'));
  const env = { ONBOARDER_CONTAINER_ENGINE: fake.engine, FAKE_RUN_EXIT: '7', DEPLOY_ENV: 'lab' };
  const first = await cli(directory, ['--container', 'osdc', '--dry-run'], env);
  assert.is(first.code, 7, first.stderr);
  assert.match(first.stdout, 'fake container ran');
  assert.match(first.stderr, /building localhost\/onboarder:[0-9a-f]{12}/);
  const tag = imageTag(directory);
  const calls = fake.calls().filter((argv) => argv[0] !== '--version');
  assert.equal(calls[0], ['image', 'inspect', tag]);
  assert.equal(calls[1], ['build', '--file', path.join(directory, 'Containerfile'), '--tag', tag, directory]);
  const run = calls[2]!;
  const uid = process.getuid!();
  assert.equal(run.slice(0, 5), ['run', '--rm', '--init', `--user=${uid}:${process.getgid!()}`, '--workdir=/opt/onboarder/project']);
  assert.not.ok(run.includes('--tty') || run.includes('--interactive'), 'no TTY when not interactive');
  assert.ok(run.includes(`--volume=${directory}:/opt/onboarder/project:rw`));
  assert.ok(run.includes(`--volume=${directory}/images:/opt/onboarder/project/images:ro`));
  assert.ok(run.includes('--mount=type=tmpfs,destination=/opt/onboarder/project/node_modules'));
  assert.ok(run.includes('--env=DEPLOY_ENV'), 'passed by name, the value never on the command line');
  assert.not.ok(run.some((arg) => arg.includes('=lab')));
  assert.equal(run.slice(-3), [tag, 'osdc', '--dry-run']);

  const second = await cli(directory, ['--container', '--version'], { ...env, FAKE_RUN_EXIT: '0' });
  assert.is(second.code, 0);
  assert.not.ok(fake.calls().some((argv, index) => index > 4 && argv[0] === 'build'), 'not built again');
}));

test('on a terminal the container gets a TTY and stdin (FAKE podman)', withTimeout(120_000, async ({ directory, scratch }: Context) => {
  const fake = fakeEngine(path.join(scratch, 'tty'));
  execFileSync('script', ['-qec', `node --import tsx deploy.ts --container --version`, '/dev/null'], {
    cwd: directory,
    env: { ...process.env, ONBOARDER_CONTAINER_ENGINE: fake.engine, TERM: 'xterm' },
    stdio: 'ignore',
  });
  const run = fake.calls().find((argv) => argv[0] === 'run')!;
  assert.ok(run.includes('--interactive') && run.includes('--tty'), JSON.stringify(run));
}));

test('--container-save writes the image to images/; an air-gapped machine loads it instead of building (FAKE podman)', withTimeout(120_000, async ({ directory, scratch }: Context) => {
  const connected = fakeEngine(path.join(scratch, 'connected'));
  const saved = await cli(directory, ['--container-save'], { ONBOARDER_CONTAINER_ENGINE: connected.engine });
  assert.is(saved.code, 0, saved.stderr);
  const archive = path.join(directory, 'images', `onboarder-${imageTag(directory).split(':')[1]}.tar`);
  assert.ok(existsSync(archive));
  const offline = fakeEngine(path.join(scratch, 'offline'));
  const loaded = await cli(directory, ['--container', '--version'], { ONBOARDER_CONTAINER_ENGINE: offline.engine });
  assert.is(loaded.code, 0, loaded.stderr);
  assert.ok(offline.calls().some((argv) => argv[0] === 'load' && argv.includes(archive)));
  assert.not.ok(offline.calls().some((argv) => argv[0] === 'build'));
  rmSync(archive);
}));

test('a failed build and a missing mount source are one clear line each, exit 2 (FAKE podman)', withTimeout(120_000, async ({ directory, scratch }: Context) => {
  const fake = fakeEngine(path.join(scratch, 'failing'));
  const failed = await cli(directory, ['--container', '--version'], { ONBOARDER_CONTAINER_ENGINE: fake.engine, FAKE_BUILD_FAILS: '1' });
  assert.is(failed.code, 2);
  assert.match(failed.stderr, /^error: building the image failed \(exit 1\): see the build output above; offline, copy images\/onboarder-[0-9a-f]{12}\.tar from a connected machine/m);
  const noAgent = await cli(directory, ['--container', '--version'], { ONBOARDER_CONTAINER_ENGINE: fakeEngine(path.join(scratch, 'agent')).engine, SSH_AUTH_SOCK: '/nonexistent/agent.sock' });
  assert.is(noAgent.code, 2);
  assert.match(noAgent.stderr, 'error: SSH_AUTH_SOCK points at /nonexistent/agent.sock, which does not exist: start ssh-agent, or unset SSH_AUTH_SOCK');
}));

test('no container engine is one clear line, exit 2', withTimeout(60_000, async ({ directory }: Context) => {
  const result = await cli(directory, ['--container', 'osdc'], { ONBOARDER_CONTAINER_ENGINE: '/nonexistent/podman' });
  assert.is(result.code, 2);
  assert.is(result.stderr.trim(), 'error: no container engine found: install podman (apt install podman) or docker, or set ONBOARDER_CONTAINER_ENGINE');
}));

const hasPodman = (() => {
  try {
    execFileSync('podman', ['--version'], { stdio: 'ignore' });
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
})();

/** An image with the host's node, the project's node_modules and busybox, imported from a local rootfs. */
function importLocalImage(scratch: string, tag: string, env: NodeJS.ProcessEnv): void {
  const rootfs = path.join(scratch, 'rootfs');
  const node = execFileSync('readlink', ['-f', process.execPath], { encoding: 'utf8' }).trim();
  const libraries = execFileSync('ldd', [node], { encoding: 'utf8' }).split('\n').map((line) => /(\/\S+) \(0x/.exec(line)?.[1]).filter((file): file is string => Boolean(file));
  for (const file of [node, ...libraries, '/bin/busybox']) {
    mkdirSync(path.join(rootfs, path.dirname(file)), { recursive: true });
    cpSync(file, path.join(rootfs, file), { dereference: true });
  }
  mkdirSync(path.join(rootfs, 'usr/local/bin'), { recursive: true });
  execFileSync('ln', ['-sf', node, path.join(rootfs, 'usr/local/bin/node')]);
  for (const applet of ['sh', 'touch', 'cat', 'ls', 'sleep']) execFileSync('ln', ['-sf', '/bin/busybox', path.join(rootfs, 'bin', applet)]);
  for (const directory of ['tmp', 'home/onboarder', 'opt/onboarder/project', 'run']) mkdirSync(path.join(rootfs, directory), { recursive: true, mode: 0o1777 });
  cpSync(path.join(repositoryRoot, 'node_modules'), path.join(rootfs, 'opt/onboarder/node_modules'), { recursive: true, verbatimSymlinks: true });
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(scratch, 'rootfs.tar'), '.']);
  execFileSync('podman', ['import', '--change', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', '--change', 'WORKDIR /opt/onboarder/project', '--change', 'ENTRYPOINT ["node", "--import", "tsx", "deploy.ts"]', path.join(scratch, 'rootfs.tar'), tag], { env, stdio: 'ignore' });
}

test('a real podman runs deploy.ts in the image: state persists on the host, exit codes and SIGTERM go through', withTimeout(600_000, async ({ directory, scratch }: Context) => {
  if (!hasPodman) return console.warn('podman (as root) not available: real container test skipped');
  const config = path.join(scratch, 'podman');
  mkdirSync(config, { recursive: true });
  writeFileSync(path.join(config, 'storage.conf'), `[storage]\ndriver = "vfs"\ngraphroot = "${config}/graph"\nrunroot = "${config}/run"\n`);
  // This sandbox refuses raising rlimits in containers, so the defaults are lowered.
  writeFileSync(path.join(config, 'containers.conf'), '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n');
  const env = { CONTAINERS_STORAGE_CONF: path.join(config, 'storage.conf'), CONTAINERS_CONF: path.join(config, 'containers.conf'), ONBOARDER_CONTAINER_ENGINE: 'podman' };
  try {
    importLocalImage(scratch, imageTag(directory), { ...process.env, ...env });

    const version = await cli(directory, ['--container', '--version'], env);
    assert.is(version.code, 0, version.stderr);
    assert.is(version.stdout.trim(), 'onboarder 0.1.0');

    const plan = await cli(directory, ['--container', 'hosts', '--dry-run', '--env', 'lab'], env);
    assert.is(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, 'plan for lab:');
    const bad = await cli(directory, ['--container', 'osdx'], env);
    assert.is(bad.code, 2, 'the exit code of the command inside goes through');
    assert.match(bad.stderr, "did you mean 'osdc'?");

    // A run inside writes its state under .cache/ on the host, as the caller's user.
    const run = await cli(directory, ['--container', '--reset', 'base', '--env', 'lab'], env);
    assert.is(run.code, 0, run.stdout + run.stderr);
    assert.ok(existsSync(path.join(directory, '.cache', 'state', 'lab', 'state.json')), 'state persisted on the host');

    // SIGTERM to the launcher reaches the run inside, which stops its task's process and exits like any
    // interrupted run. A project with one long task, so the signal always lands mid-task.
    writeFileSync(
      path.join(directory, 'deploy.ts'),
      `import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './lib/cli/main.js';
import { task } from './lib/dsl/define-tasks.js';
import { ok } from './lib/failures.js';
import { runCommand } from './lib/tools/command.js';
const wait = task({ name: 'wait', run: (context) => runCommand(context, ['sleep', '300']).then(() => undefined) });
process.exitCode = await runCli({ root: path.dirname(fileURLToPath(import.meta.url)), catalog: [wait], defaultEnvironment: 'lab', environments: { lab: () => ok({ config: {}, secrets: [] }) } });
`,
    );
    const launcher = spawn(process.execPath, ['--import', 'tsx', 'deploy.ts', '--container', 'wait'], { cwd: directory, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    launcher.stdout!.on('data', (chunk) => (output += chunk));
    launcher.stderr!.on('data', (chunk) => (output += chunk));
    await waitFor(() => output.includes('$ sleep 300'), 120_000);
    launcher.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => launcher.on('exit', resolve));
    assert.is(code, 130, output);
    assert.match(output, 'interrupted');
  } finally {
    execFileSync('podman', ['rmi', '--all', '--force'], { env: { ...process.env, ...env }, stdio: 'ignore' });
    rmSync(path.join(config, 'graph'), { recursive: true, force: true });
  }
}));

test.run();
