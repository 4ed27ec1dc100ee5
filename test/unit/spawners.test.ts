// The two spawners (spawn-helper.py and spawn-helper.mjs) speak one protocol: each case runs against both,
// so a program cannot tell which one started it. Then what concerns one of them: a locale that is not
// UTF-8, the Python spawner's one-line stop, and the Node spawner taking over from a python3 that cannot
// serve.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ProgramExit } from '../../lib/dsl/context.js';
import { pythonSpawnerCommand, SpawnService, type ProgramRequest, type SpawnerKind } from '../../lib/scheduler/spawn-service.js';
import { processesMatching, waitFor } from '../helpers/project.js';

interface Ran {
  stdout: string;
  stderr: string;
  exit: ProgramExit;
  pid: number;
}

function run(service: SpawnService, program: string, args: string[], extra: Partial<ProgramRequest> = {}): Promise<Ran> {
  const ran = { stdout: '', stderr: '', pid: 0 };
  return service
    .run(
      { program, args, cwd: process.cwd(), baseEnvironment: process.env, ...extra },
      { started: (pid) => (ran.pid = pid), stdout: (chunk) => (ran.stdout += chunk), stderr: (chunk) => (ran.stderr += chunk) },
    )
    .then((exit) => ({ ...ran, exit }));
}

/** The spawner's pid, once one has booted (programs are spawned by this process until then). */
async function bootedSpawner(service: SpawnService): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const spawner = Number((await run(service, 'sh', ['-c', 'echo $PPID'])).stdout);
    if (spawner !== process.pid) return spawner;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('no spawner came up in 4 s');
}

/** A service with one spawner of `kind`, booted: the programs of the cases run in it, not in this process. */
async function bootedService(kind: SpawnerKind): Promise<{ service: SpawnService; spawner: number }> {
  const service = new SpawnService(1, kind);
  return { service, spawner: await bootedSpawner(service) };
}

function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
}

for (const kind of ['python', 'node'] as const) {
  test(`${kind} spawner: output, exit codes, signals, a process group and session of its own, a clean start`, async () => {
    const { service, spawner } = await bootedService(kind);
    try {
      assert.ok(commandLine(spawner).includes(kind === 'python' ? 'spawn-helper.py' : 'spawn-helper.mjs'), commandLine(spawner));
      const ran = await run(service, 'sh', ['-c', 'echo out; echo err >&2; ps -o pgid=,sid= -p $$; exit 3']);
      assert.equal({ stdout: ran.stdout.replace(/^ *(\d+) +(\d+)$/m, (_, group, session) => `${group === String(ran.pid)} ${session === String(ran.pid)}`), stderr: ran.stderr, exit: ran.exit }, {
        stdout: 'out\ntrue true\n',
        stderr: 'err\n',
        exit: { exitCode: 3, signal: null },
      });
      assert.equal((await run(service, 'sh', ['-c', 'kill -TERM $$; echo survived'])).exit, { exitCode: null, signal: 'SIGTERM' });
      // No signal ignored or blocked (the spawner ignores SIGINT, Python SIGPIPE), no descriptor of the
      // spawner's own: the same descriptors as a program this process starts itself. glibc's posix_spawn
      // leaves its two internal signals (32 and 33, thread cancellation and set*id) ignored, as in every
      // program GNU make starts; glibc installs its handlers for them when a program uses them.
      // (Each program looks at itself: a shell blocks every signal while it forks, so another process
      // reading the shell's masks may catch that moment.)
      const status = await run(service, 'grep', ['-E', '^Sig(Ign|Blk)', '/proc/self/status']);
      const glibcInternal = 0x180000000n;
      const masks = Object.fromEntries([...status.stdout.matchAll(/^(SigIgn|SigBlk):\s+([0-9a-f]+)$/gm)].map(([, name, mask]) => [name, BigInt(`0x${mask}`) & ~glibcInternal]));
      assert.equal(masks, { SigBlk: 0n, SigIgn: 0n });
      const reference = spawnSync('ls', ['/proc/self/fd'], { stdio: ['ignore', 'pipe', 'pipe'] }).stdout.toString();
      assert.is((await run(service, 'ls', ['/proc/self/fd'])).stdout, reference);
    } finally {
      service.close();
    }
  });

  test(`${kind} spawner: environment, working directory, input, bytes, a script without #!`, async () => {
    const { service } = await bootedService(kind);
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-spawner-'));
    try {
      const script = path.join(directory, 'plain-script');
      writeFileSync(script, 'echo "from a plain script in $PWD"\n');
      chmodSync(script, 0o755);
      const baseEnvironment = { PATH: process.env.PATH!, BASE: 'one' };
      assert.is((await run(service, 'sh', ['-c', 'echo $BASE $ADDED; pwd'], { baseEnvironment, env: { ADDED: 'two' }, cwd: directory })).stdout, `one two\n${directory}\n`);
      // A changed base environment reaches the next program.
      assert.is((await run(service, 'sh', ['-c', 'echo $BASE'], { baseEnvironment: { ...baseEnvironment, BASE: 'changed' } })).stdout, 'changed\n');
      assert.is((await run(service, script, [], { cwd: directory })).stdout, `from a plain script in ${directory}\n`);
      assert.is((await run(service, 'cat', [], { input: 'héllo, ünïcode ✓' })).stdout, 'héllo, ünïcode ✓');
      // An input of many pipe-fulls (and many reads of the channel) arrives whole and in order.
      const large = Array.from({ length: 200_000 }, (_, line) => `line ${line}\n`).join('');
      const copied = await run(service, 'cat', [], { input: large });
      assert.ok(copied.stdout === large, `cat returned ${copied.stdout.length} of ${large.length} characters`);
      const bytes = await run(service, 'printf', ['\\377\\000\\303'], { encoding: 'latin1' });
      assert.equal([...Buffer.from(bytes.stdout, 'latin1')], [0xff, 0x00, 0xc3]);
      // Invalid UTF-8 becomes U+FFFD, as Node's decoder makes it; a character split between reads is whole.
      assert.is((await run(service, 'sh', ['-c', "printf '\\377'; printf '\\342\\234'; sleep 0.1; printf '\\223'"])).stdout, '\uFFFD✓');
    } finally {
      service.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test(`${kind} spawner: programs that cannot start say why, and the spawner goes on`, async () => {
    const { service } = await bootedService(kind);
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-spawner-'));
    try {
      assert.equal((await run(service, 'no-such-program-anywhere', [])).exit, { startError: { code: 'ENOENT', message: 'spawn no-such-program-anywhere ENOENT' } });
      assert.equal((await run(service, 'true', [], { cwd: '/no/such/directory' })).exit, { startError: { code: 'ENOENT', message: 'spawn true ENOENT' } });
      const notExecutable = path.join(directory, 'not-executable');
      writeFileSync(notExecutable, 'echo never\n', { mode: 0o644 });
      assert.equal((await run(service, notExecutable, [])).exit, { startError: { code: 'EACCES', message: `spawn ${notExecutable} EACCES` } });
      assert.equal((await run(service, 'echo', ['still here'])).stdout, 'still here\n');
    } finally {
      service.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test(`${kind} spawner: out of descriptors, a start fails with EMFILE and leaves nothing running; the next one works`, async () => {
    const { service, spawner } = await bootedService(kind);
    const marker = `33.${process.pid}${kind.length}`;
    const limits = () => /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${spawner}/limits`, 'utf8'))!.slice(1, 3).join(':');
    const saved = limits();
    try {
      // The lowest limit that leaves the spawner no descriptor to spare.
      const open = readdirSync(`/proc/${spawner}/fd`).map(Number);
      let limit = 0;
      while (open.filter((fd) => fd < limit).length < limit) limit++;
      assert.is(spawnSync('prlimit', ['--pid', String(spawner), `--nofile=${limit}:${saved.split(':')[1]}`]).status, 0);
      const failed = await run(service, 'sleep', [marker]);
      assert.equal(failed.exit, { startError: { code: 'EMFILE', message: `spawn sleep EMFILE` } });
      assert.equal(processesMatching(`sleep ${marker}`), []);
      assert.is(spawnSync('prlimit', ['--pid', String(spawner), `--nofile=${saved}`]).status, 0);
      assert.is((await run(service, 'echo', ['works again'])).stdout, 'works again\n');
    } finally {
      service.close();
    }
  });

  test(`${kind} spawner: standard input streamed to a program, and output left open by what it started`, async () => {
    const { service } = await bootedService(kind);
    try {
      let output = '';
      const attached = service.attach({ program: 'sh', args: ['-c', 'read first; echo "got $first"; cat'], cwd: '/', baseEnvironment: process.env }, { started: () => undefined, stdout: (chunk) => (output += chunk), stderr: () => undefined })!;
      attached.writeStdin(Buffer.from('one\n'));
      await waitFor(() => output === 'got one\n');
      attached.writeStdin(Buffer.from('two\n'));
      attached.endStdin();
      assert.equal(await attached.exit, { exitCode: 0, signal: null });
      assert.is(output, 'got one\ntwo\n');
      const marker = `31.${process.pid}`;
      const left = await run(service, 'sh', ['-c', `sleep ${marker} & echo started`]);
      process.kill(-left.pid, 'SIGKILL');
      assert.equal({ stdout: left.stdout, exit: left.exit }, { stdout: 'started\n', exit: { exitCode: 0, signal: null, outputLeftOpen: true } });
    } finally {
      service.close();
    }
  });

  test(`${kind} spawner: a program printing faster than the engine reads is paused, not buffered: the spawner stays small`, async () => {
    const { service, spawner } = await bootedService(kind);
    const megabytes = 120;
    let received = 0;
    try {
      const exit = await service.run(
        { program: 'sh', args: ['-c', `yes 'a line of output, as a verbose playbook prints them' | head -c ${megabytes * 1_000_000}`], cwd: '/', baseEnvironment: process.env },
        {
          started: () => undefined,
          stdout: (chunk) => {
            received += chunk.length;
            // A slow reader: 2 ms per chunk, as a busy engine or a slow terminal would be.
            const until = performance.now() + 2;
            while (performance.now() < until);
          },
          stderr: () => undefined,
        },
      );
      assert.equal(exit, { exitCode: 0, signal: null });
      const peakKiB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${spawner}/status`, 'utf8'))?.[1]);
      assert.is(received, megabytes * 1_000_000, 'every byte arrived');
      // Without flow control the spawner queues what the engine has not taken yet: most of the output.
      assert.ok(peakKiB > 0 && peakKiB < 110 * 1024, `the spawner's peak was ${Math.round(peakKiB / 1024)} MB for ${megabytes} MB of output`);
    } finally {
      service.close();
    }
  });

  test(`${kind} spawner: when the engine lets go while a program runs, the spawner stops it and exits`, async () => {
    const { service, spawner } = await bootedService(kind);
    const marker = `32.${process.pid}${kind.length}`;
    const running = run(service, 'sh', ['-c', `trap 'echo stopping; exit 0' TERM; sleep ${marker} & wait`]);
    // The shell and its sleep (the shell's command line names the sleep too).
    await waitFor(() => processesMatching(`sleep ${marker}`).length === 2);
    service.close();
    assert.equal((await running).exit, { startError: { code: 'ESPAWNER', message: 'the process spawner exited while the program ran' } });
    // TERM reached the group: the shell's trap ended it; the sleep in the same group got it too.
    await waitFor(() => processesMatching(`sleep ${marker}`).length === 0);
    await waitFor(() => spawnSync('kill', ['-0', String(spawner)]).status !== 0);
  });
}

test("arguments and environment reach a program as UTF-8 whatever the locale (both spawners, in ISO-8859-1)", async () => {
  const locales = mkdtempSync(path.join(os.tmpdir(), 'onboarder-locale-'));
  const saved = { LOCPATH: process.env.LOCPATH, LC_ALL: process.env.LC_ALL };
  try {
    // A Latin-1 locale of our own (localedef, from the locales package's sources), so Python would encode
    // arguments in it if it were left to the locale.
    if (!existsSync('/usr/share/i18n/locales/en_US')) {
      console.warn('the locales package is not installed (.ci/run installs it): spawners not checked under ISO-8859-1');
      return;
    }
    execFileSync('localedef', ['-i', 'en_US', '-f', 'ISO-8859-1', path.join(locales, 'en_US.ISO-8859-1')]);
    process.env.LOCPATH = locales;
    process.env.LC_ALL = 'en_US.ISO-8859-1';
    for (const kind of ['python', 'node'] as const) {
      const { service } = await bootedService(kind);
      try {
        const ran = await run(service, 'sh', ['-c', 'printf %s "$1$TEXT" | od -An -tx1', 'sh', 'é✓'], { baseEnvironment: process.env, env: { TEXT: 'é' } });
        assert.is(ran.stdout.trim().replace(/\s+/g, ' '), 'c3 a9 e2 9c 93 c3 a9', kind);
      } finally {
        service.close();
      }
    }
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(locales, { recursive: true, force: true });
  }
});

test('the Python spawner stopped by something unexpected says so in one line, without a traceback', async () => {
  const [program, args] = pythonSpawnerCommand();
  const spawner = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
  let stderr = '';
  spawner.stderr!.on('data', (chunk) => (stderr += chunk));
  await new Promise((resolve) => spawner.once('message', resolve));
  // A request no engine sends: a run without a program.
  spawner.send({ type: 'run', id: 1, cwd: '/', args: [] });
  const code = await new Promise((resolve) => spawner.once('close', resolve));
  assert.is(code, 70);
  assert.match(stderr, /^onboarder: the process spawner stopped on KeyError \(spawn-helper\.py:\d+\)\n$/);
});

for (const [broken, script] of [
  ['exits at once (missing, too old, no pidfd_open)', 'exit 3'],
  ['never says it is ready (stuck in its start)', `exec sleep 60.${process.pid}`],
] as const) {
  test(`a python3 that ${broken}: the Node spawner starts the programs`, async () => {
    const directory = mkdtempSync(path.join(os.tmpdir(), 'onboarder-no-python-'));
    const savedPath = process.env.PATH;
    writeFileSync(path.join(directory, 'python3'), `#!/bin/sh\n${script}\n`);
    chmodSync(path.join(directory, 'python3'), 0o755);
    process.env.PATH = `${directory}:${savedPath}`;
    const service = new SpawnService(1, 'python', 300);
    try {
      const spawner = await bootedSpawner(service);
      assert.is(service.spawnerKind, 'node');
      assert.ok(commandLine(spawner).includes('spawn-helper.mjs'), commandLine(spawner));
      assert.equal(processesMatching(`sleep 60.${process.pid}`), [], 'the stuck one was ended');
    } finally {
      service.close();
      process.env.PATH = savedPath;
      rmSync(directory, { recursive: true, force: true });
    }
  });
}

test.run();
