// Shell completion and help (issue 20, part 3): `--completion bash|zsh|fish` prints a script that the real
// shells run here on prefixes of command lines of the example project, asking deploy.ts for the
// candidates (options, their values, the chosen environment's targets and instances).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { repositoryRoot } from '../helpers/project.js';

const test = suite('completion and help');
// tsx on PATH, as after `npm ci` with node_modules/.bin in it; the example environment unless --env says.
const { DEPLOY_ENV: _chosenEnvironment, ...inherited } = process.env;
const environment = { ...inherited, PATH: `${path.join(repositoryRoot, 'node_modules', '.bin')}:${process.env.PATH}` };

function deploy(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync('tsx', ['deploy.ts', ...args], { cwd: repositoryRoot, env: environment, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function shell(program: string, args: string[]): string {
  const result = spawnSync(program, args, { cwd: repositoryRoot, env: environment, encoding: 'utf8' });
  assert.is(result.status, 0, `${program}: ${result.stderr}`);
  return result.stdout;
}

/** Each line typed (up to the cursor at its end), and what bash's completion function answers. */
function bashCompletes(lines: string[]): string[][] {
  const script = deploy(['--completion', 'bash']).stdout;
  const body = lines.map((line) => `COMP_LINE=${JSON.stringify(line)}; COMP_POINT=\${#COMP_LINE}; COMPREPLY=(); _onboarder_complete; printf '<%s>\\n' "\${COMPREPLY[*]}"`);
  const answers = shell('bash', ['--norc', '-c', `${script}\n${body.join('\n')}`]).trimEnd().split('\n');
  return answers.map((line) => line.slice(1, -1)).map((line) => (line === '' ? [] : line.split(' ')));
}

test('bash: options, option values, targets with word breaks (: and =), instances of the chosen environment, files otherwise', () => {
  const [options, attachedValue, namespaced, instance, labInstance, skipValue, fileValue, notOurs] = bashCompletes([
    'npx tsx deploy.ts --dry',
    'npx tsx deploy.ts --env=l',
    'npx tsx deploy.ts base:co',
    'tsx deploy.ts node-prep[node=osdc-a-c',
    'npx tsx deploy.ts --env lab node-prep[node=o',
    'tsx deploy.ts osdc --skip dn',
    'tsx deploy.ts osdc --dry-run --out pl',
    'tsx other.ts base:co',
  ]);
  assert.equal(options, ['--dry-run']);
  // bash replaces what follows the last ':' or '=' of the word: the candidates are that part.
  assert.equal(attachedValue, ['lab']);
  assert.equal(namespaced, ['copy-ssh-key']);
  assert.equal(instance, ['osdc-a-cp1]', 'osdc-a-cp2]', 'osdc-a-cp3]']);
  assert.equal(labInstance, ['osdc-cp1]', 'osdc-w1]', 'osms-cp1]']);
  assert.equal(skipValue, ['dns', 'dns-autoscaler[cluster=osdc-a]', 'dns-autoscaler[cluster=osdc-b]', 'dns-autoscaler[cluster=osms]']);
  assert.equal(fileValue, [], 'a file: left to bash (complete -o default)');
  assert.equal(notOurs, []);
  const script = deploy(['--completion', 'bash']).stdout;
  assert.match(script, 'complete -o bashdefault -o default -F _onboarder_complete tsx npx');
});

test('zsh: the completion function offers the same candidates, several at once (compadd stood in for by a printer)', () => {
  const script = deploy(['--completion', 'zsh']).stdout;
  const out = shell('zsh', ['-f', '-c', `${script}
compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -rl -- "$@"; }
_default() { print '(files)'; }
words=(npx tsx deploy.ts --env lab 'base:co'); CURRENT=6; PREFIX='base:co'; _onboarder
words=(tsx deploy.ts 'node-prep\\[node=osdc-b-w'); CURRENT=3; PREFIX='node-prep\\[node=osdc-b-w'; _onboarder
words=(tsx deploy.ts --out pl); CURRENT=4; PREFIX=pl; _onboarder`]);
  assert.equal(out.trimEnd().split('\n'), ['base:copy-ssh-key', 'node-prep[node=osdc-b-w1]', 'node-prep[node=osdc-b-w2]', 'node-prep[node=osdc-b-w3]', '(files)']);
});

test('zsh at a prompt (a pseudo-terminal): TAB completes a target, an instance typed with a backslash or inside quotes, an option, and stops after an input\'s [', () => {
  const script = path.join(mkdtempSync(path.join(os.tmpdir(), 'onboarder-zsh-')), 'onboarder.zsh');
  try {
    writeFileSync(script, deploy(['--completion', 'zsh']).stdout);
    const out = `${script}.out`;
    const lines = ['tsx deploy.ts --env lab base:co', 'npx tsx deploy.ts node-prep\\[node=osdc-b-w1', "tsx deploy.ts 'node-prep[node=osdc-b-w1", 'tsx deploy.ts --dry', 'tsx deploy.ts bundle:cr'];
    shell('zsh', ['-f', path.join(repositoryRoot, 'test', 'fixtures', 'zsh-complete.zsh'), script, out, ...lines]);
    assert.equal(readFileSync(out, 'utf8').trimEnd().split('\n'), [
      '<tsx deploy.ts --env lab base:copy-ssh-key >',
      '<npx tsx deploy.ts node-prep\\[node=osdc-b-w1\\] >',
      "<tsx deploy.ts 'node-prep[node=osdc-b-w1]' >",
      '<tsx deploy.ts --dry-run >',
      '<tsx deploy.ts bundle:create\\[>',
    ]);
  } finally {
    rmSync(path.dirname(script), { recursive: true, force: true });
  }
});

test("fish: `complete -C` on command lines, as fish's own completion would ask", () => {
  const script = deploy(['--completion', 'fish']).stdout;
  const out = shell('fish', ['--no-config', '-c', `${script}
complete -C'tsx deploy.ts --format m'; echo sep
complete -C'npx tsx deploy.ts bundle:ver'; echo sep
complete -C'tsx deploy.ts --env=l'`]);
  assert.equal(out.trimEnd().split('\n'), ['mermaid', 'sep', 'bundle:verify[', 'sep', '--env=lab']);
});

test('--completion refuses a shell it does not know, in one line', () => {
  const refused = deploy(['--completion', 'powershell']);
  assert.is(refused.code, 2);
  assert.match(refused.stderr, /^error: --completion 'powershell' is not a shell this knows: use one of bash, zsh, fish/m);
});

test('--help: examples, the name[key=value] form, environment variables, exit codes; TARGET --help describes the task', () => {
  const help = deploy(['--help']).stdout;
  for (const part of ['Examples', "'node-prep[node=osdc-a-w1]'", 'DEPLOY_ENV', 'NO_COLOR', 'sudo -E', '--no-color', 'Exit codes', '--completion bash']) {
    assert.ok(help.includes(part), `--help mentions ${part}`);
  }
  const task = deploy(['registry', '--help']);
  assert.is(task.code, 0);
  assert.match(task.stdout, /^registry: The site registry/m);
  assert.match(task.stdout, /defined at +tasks\/registry\/index.ts:\d+/);
});

test.run();
