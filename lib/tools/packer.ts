import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CommandFailure } from '../dsl/command-failure.js';
import { formatCommand, reportToolVersion, runCommand, type ToolContext } from './command.js';
import { withPrivateFile } from './private-file.js';

export interface PackerOptions {
  /** An HCL2 file or directory, or a JSON template. */
  readonly template: string;
  readonly varFiles?: readonly string[];
  /** Written to a 0600 var file (never on the command line, where `ps` would show secrets). */
  readonly vars?: Readonly<Record<string, string | number | boolean>>;
  readonly only?: readonly string[];
  readonly except?: readonly string[];
  readonly cwd?: string;
  /** More environment for packer: PACKER_PLUGIN_PATH (packerPluginDirectory). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface PackerBuildOptions extends PackerOptions {
  readonly force?: boolean;
  readonly onError?: 'cleanup' | 'abort' | 'ask' | 'run-cleanup-provisioner';
}

/** One artifact a build produced, from `-machine-readable` output. */
export interface PackerArtifact {
  readonly build: string;
  readonly builderId: string;
  readonly id: string;
  readonly description: string;
  readonly files: readonly string[];
}

const packerEnvironment = { CHECKPOINT_DISABLE: '1', PACKER_NO_COLOR: '1' };

export async function packerValidate(context: ToolContext, options: PackerOptions): Promise<void> {
  await reportToolVersion(context, 'packer');
  await withVarFile(options, (args) => runCommand(context, ['packer', 'validate', ...args, options.template], { env: { ...packerEnvironment, ...options.env }, ...(options.cwd ? { cwd: options.cwd } : {}) }));
}

/**
 * `packer init` where it exists (packer 1.7+); older packer (Debian's 1.6.6) has no plugins to install, so
 * this is a logged no-op there.
 */
export async function packerInit(context: ToolContext, options: Pick<PackerOptions, 'template' | 'cwd' | 'env'>): Promise<void> {
  const version = await reportToolVersion(context, 'packer');
  if (!supportsInit(version)) {
    context.log.info(`packer init skipped: ${version} has no init`);
    return;
  }
  await runCommand(context, ['packer', 'init', options.template], { env: { ...packerEnvironment, ...options.env }, ...(options.cwd ? { cwd: options.cwd } : {}) });
}

/** A packer plugin's release zip (packer-plugin-<name>_v<version>_x5.0_<os>_<arch>.zip), verified beforehand. */
export interface PluginPackage {
  /** As the template's required_plugins names it: github.com/hashicorp/proxmox. */
  readonly source: string;
  readonly file: string;
}

/**
 * The plugin directory packer loads `packages` from, in packer's own layout: each zip's binary under its
 * source, beside the `_SHA256SUM` file packer checks it against. `packer init` then finds every required
 * plugin installed and downloads nothing (an air-gapped site has nowhere to download from; a connected one
 * runs the release that was verified). Unpacked with python3's zipfile (Ansible's python), once per release.
 * Returns the environment that selects the directory (PACKER_PLUGIN_PATH), for every packer command.
 */
export async function packerPluginDirectory(context: ToolContext, directory: string, packages: readonly PluginPackage[]): Promise<Readonly<Record<string, string>>> {
  for (const each of packages) {
    const name = path.basename(each.file, '.zip');
    const binary = path.join(directory, each.source, name);
    const installed = existsSync(binary) && existsSync(`${binary}_SHA256SUM`) && readFileSync(`${binary}_SHA256SUM`, 'utf8').trim() === sha256Of(binary);
    if (installed) continue;
    if (!existsSync(each.file) && !context.dryRun) throw new Error(`the ${each.source} plugin's release zip ${each.file} is not there: images:fetch fetches and verifies it (bundle:load places it on an air-gapped site); run the step with its dependencies`);
    const unpacked = path.join(directory, '.unpacked');
    if (!context.dryRun) rmSync(unpacked, { recursive: true, force: true });
    await runCommand(context, ['python3', '-m', 'zipfile', '-e', each.file, unpacked]);
    if (context.dryRun) continue;
    if (!existsSync(path.join(unpacked, name))) throw new Error(`${each.file} holds no ${name}: it is not the plugin's release zip (fetch it again with images:fetch)`);
    mkdirSync(path.dirname(binary), { recursive: true });
    renameSync(path.join(unpacked, name), binary);
    chmodSync(binary, 0o755);
    writeFileSync(`${binary}_SHA256SUM`, sha256Of(binary));
    rmSync(unpacked, { recursive: true, force: true });
  }
  return { PACKER_PLUGIN_PATH: directory };
}

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

export function supportsInit(version: string): boolean {
  const match = /(\d+)\.(\d+)/.exec(version);
  return match !== null && (Number(match[1]) > 1 || Number(match[2]) >= 7);
}

/** Runs a build with `-machine-readable`; the live log shows the UI lines, the result lists the artifacts. */
export async function packerBuild(context: ToolContext, options: PackerBuildOptions): Promise<{ artifacts: PackerArtifact[] }> {
  await reportToolVersion(context, 'packer');
  return withVarFile(options, async (args) => {
    const argv = ['packer', 'build', '-machine-readable', ...args];
    if (options.force) argv.push('-force');
    if (options.onError) argv.push(`-on-error=${options.onError}`);
    argv.push(options.template);
    const result = await runCommand(context, argv, {
      env: { ...packerEnvironment, ...options.env },
      okExitCodes: [1],
      displayLine: (line) => uiText(parseMachineLine(line)),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    const lines = result.stdout.split('\n').map(parseMachineLine).filter((line) => line !== undefined);
    if (result.exitCode !== 0) {
      const errors = lines.filter((line) => line.type === 'error' || (line.type === 'ui' && line.data[0] === 'error')).map((line) => (line.type === 'error' ? line.data[0] : line.data[1]) ?? '');
      throw new CommandFailure(formatCommand(argv), result.exitCode, null, errors.join('\n') || result.stderr, `packer build failed: ${errors.at(-1)?.split('\n')[0] ?? 'see the log'}`);
    }
    return { artifacts: parseArtifacts(lines) };
  });
}

async function withVarFile<Result>(options: PackerOptions, body: (args: string[]) => Promise<Result>): Promise<Result> {
  const args: string[] = [];
  for (const file of options.varFiles ?? []) args.push(`-var-file=${file}`);
  if (options.only?.length) args.push(`-only=${options.only.join(',')}`);
  if (options.except?.length) args.push(`-except=${options.except.join(',')}`);
  if (!options.vars || Object.keys(options.vars).length === 0) return body(args);
  return withPrivateFile('vars.json', JSON.stringify(options.vars), (file) => body([...args, `-var-file=${file}`]));
}

export interface MachineLine {
  readonly timestamp: string;
  readonly target: string;
  readonly type: string;
  readonly data: readonly string[];
}

/** Parses one `timestamp,target,type,data...` line; commas and newlines in data are unescaped. */
export function parseMachineLine(line: string): MachineLine | undefined {
  const fields = line.split(',');
  if (fields.length < 3 || !/^\d+$/.test(fields[0]!)) return undefined;
  const unescape = (text: string) => text.replace(/%!\(PACKER_COMMA\)/g, ',').replace(/\\n/g, '\n').replace(/\\r/g, '\r');
  return { timestamp: fields[0]!, target: fields[1]!, type: fields[2]!, data: fields.slice(3).map(unescape) };
}

function uiText(line: MachineLine | undefined): string | undefined {
  if (!line || line.type !== 'ui') return undefined;
  return line.data.slice(1).join(',').replace(/^\n+/, '');
}

export function parseArtifacts(lines: readonly MachineLine[]): PackerArtifact[] {
  const artifacts = new Map<string, { build: string; builderId: string; id: string; description: string; files: string[] }>();
  for (const line of lines) {
    if (line.type !== 'artifact') continue;
    const [index, key, ...rest] = line.data;
    const name = `${line.target}#${index}`;
    let artifact = artifacts.get(name);
    if (!artifact) artifacts.set(name, (artifact = { build: line.target, builderId: '', id: '', description: '', files: [] }));
    const value = rest.join(',');
    if (key === 'builder-id') artifact.builderId = value;
    else if (key === 'id') artifact.id = value;
    else if (key === 'string') artifact.description = value;
    else if (key === 'file') artifact.files.push(rest.slice(1).join(','));
  }
  return [...artifacts.values()];
}

