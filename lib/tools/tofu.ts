import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { findExecutable } from '../stamps/tool-versions.js';
import { writeFileIfChanged } from './files.js';
import { reportToolVersion, runCommand, type ToolContext } from './command.js';
import { withPrivateFile } from './private-file.js';

export interface TofuOptions {
  /** The configuration directory. */
  readonly dir: string;
  /** A configured binary; default `tofu` where installed, else `terraform`. */
  readonly binary?: string;
  readonly workspace?: string;
  /** e.g. `5m`: wait for a state lock instead of failing at once. */
  readonly lockTimeout?: string;
  /** More environment for the binary: a backend's credentials (PG_CONN_STR), kept off the command line. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface TofuVariables {
  /** Written to a 0600 `.tfvars.json` (never on the command line). */
  readonly vars?: Readonly<Record<string, unknown>>;
  readonly varFiles?: readonly string[];
}

/** The binary to use: the configured one, else `tofu` when on PATH, else `terraform`. */
export function tofuBinary(configured?: string): string {
  if (configured) return configured;
  // Looked up on PATH, not by running `tofu version`: a dry run starts no process at all.
  return findExecutable('tofu') ? 'tofu' : 'terraform';
}

const automation = { TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' };

async function tofu(
  context: ToolContext,
  options: TofuOptions,
  args: readonly string[],
  okExitCodes: readonly number[] = [],
  displayLine?: (line: string) => string | undefined,
) {
  const binary = tofuBinary(options.binary);
  await reportToolVersion(context, binary);
  const env = { ...automation, ...options.env, ...(options.workspace ? { TF_WORKSPACE: options.workspace } : {}) };
  return runCommand(context, [binary, ...args], { cwd: options.dir, env, okExitCodes, ...(displayLine ? { displayLine } : {}) });
}

/**
 * The configuration in `source` with its state in another backend: its .tf files copied into `target` with
 * a `backend_override.tf` that names the backend (Terraform and OpenTofu merge *_override.tf over the
 * module's own `backend` block). Files are written only when they differ. Returns `target`.
 */
export async function tofuModuleWithBackend(context: ToolContext, source: string, target: string, backend: 'pg'): Promise<string> {
  const files = readdirSync(source).filter((file) => file.endsWith('.tf') && !file.endsWith('_override.tf'));
  for (const name of files) {
    await writeFileIfChanged(context, path.join(target, name), readFileSync(path.join(source, name), 'utf8'));
  }
  // A file the module no longer has goes from the copy too (else its resources would stay declared there).
  for (const stale of readdirSync(target).filter((file) => file.endsWith('.tf') && file !== 'backend_override.tf' && !files.includes(file))) rmSync(path.join(target, stale));
  await writeFileIfChanged(context, path.join(target, 'backend_override.tf'), `# Written by Onboarder: the state is in the environment's PostgreSQL database.\nterraform {\n  backend "${backend}" {}\n}\n`);
  return target;
}

/**
 * The connection string for tofu's pg backend from the one Onboarder's state uses. Its driver (lib/pq)
 * insists on TLS when the URL names no sslmode, where node-postgres connects as the URL says; so one URL
 * means one thing to both, a URL without sslmode gets `sslmode=disable` here. A site that wants TLS writes
 * `?sslmode=verify-full` (or `require`) in its URL, and both use it.
 */
export function pgBackendConnection(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('sslmode')) parsed.searchParams.set('sslmode', 'disable');
  return parsed.toString();
}

/** A provider package installed from a file verified beforehand, never from a registry. */
export interface ProviderPackage {
  /** `namespace/type`, as the module's required_providers names it (bpg/proxmox). */
  readonly source: string;
  /** The package as its publisher releases it: terraform-provider-<type>_<version>_<os>_<arch>.zip. */
  readonly file: string;
}

/** The hostnames a source without one means: OpenTofu's registry, and Terraform's (tofuBinary may pick either). */
const defaultRegistries = ['registry.opentofu.org', 'registry.terraform.io'];

/**
 * A CLI configuration (in `directory`) that installs `packages` from a filesystem mirror beside it and from
 * nowhere else: no registry is asked, on an air-gapped site or a connected one, so every provider is the
 * package verified against its publisher's checksums, and a provider the mirror lacks fails `init`. The
 * mirror lists each package under both default registries (Terraform's filesystem_mirror packed layout).
 * Returns the environment that selects the configuration (TF_CLI_CONFIG_FILE), for every command.
 */
export async function tofuProviderMirror(context: ToolContext, directory: string, packages: readonly ProviderPackage[]): Promise<Readonly<Record<string, string>>> {
  const mirror = path.join(directory, 'mirror');
  const include = packages.flatMap((each) => defaultRegistries.map((host) => `${host}/${each.source}`));
  const missing = packages.find((each) => !existsSync(each.file));
  if (missing && !context.dryRun) throw new Error(`the ${missing.source} provider package ${missing.file} is not there: images:fetch fetches and verifies it (bundle:load places it on an air-gapped site); run the step with its dependencies`);
  if (!context.dryRun) {
    // Changed in place, never emptied first: cluster-vms of several clusters may run at once (the
    // proxmox-api pool), each reading the mirror while another writes it.
    for (const each of packages) {
      for (const host of defaultRegistries) placePackage(each.file, path.join(mirror, host, each.source));
    }
  }
  const configuration = path.join(directory, 'cli.tfrc');
  const text = [
    '# Written by Onboarder: providers are installed from the verified packages in the mirror alone.',
    'provider_installation {',
    '  filesystem_mirror {',
    `    path    = ${JSON.stringify(mirror)}`,
    `    include = ${JSON.stringify(include)}`,
    '  }',
    '}',
    '',
  ].join('\n');
  await writeFileIfChanged(context, configuration, text);
  return { TF_CLI_CONFIG_FILE: configuration };
}

/**
 * `file` in `directory` under its own name (a hard link where they share a file system, else a copy), put
 * there by an atomic rename unless it is that file already; another version's package there is removed.
 */
function placePackage(file: string, directory: string): void {
  const target = path.join(directory, path.basename(file));
  mkdirSync(directory, { recursive: true });
  const [source, present] = [statSync(file), existsSync(target) ? statSync(target) : undefined];
  if (!present || present.ino !== source.ino || present.dev !== source.dev) {
    const temporary = `${target}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    try {
      linkSync(file, temporary);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      copyFileSync(file, temporary);
    }
    renameSync(temporary, target);
  }
  for (const other of readdirSync(directory).filter((name) => name.endsWith('.zip') && name !== path.basename(file))) rmSync(path.join(directory, other), { force: true });
}

export async function tofuInit(context: ToolContext, options: TofuOptions & { readonly backendConfig?: Readonly<Record<string, string>>; readonly upgrade?: boolean }): Promise<void> {
  const args = ['init', '-input=false', '-no-color'];
  for (const [key, value] of Object.entries(options.backendConfig ?? {})) args.push(`-backend-config=${key}=${value}`);
  if (options.upgrade) args.push('-upgrade');
  // TF_WORKSPACE must not name a workspace that does not exist yet during init.
  await tofu(context, withoutWorkspace(options), args);
}

/** Selects a workspace, creating it when missing. */
export async function tofuWorkspace(context: ToolContext, options: TofuOptions & { readonly name: string }): Promise<void> {
  const base = withoutWorkspace(options);
  const selected = await tofu(context, base, ['workspace', 'select', '-no-color', options.name], [1]);
  if (selected.exitCode !== 0) await tofu(context, base, ['workspace', 'new', '-no-color', options.name]);
}

/**
 * Moves a workspace's state from a local state file into the configured backend (the workspace selected in
 * `options`), once: when the environment's state moved to PostgreSQL, the VMs a cluster already has are
 * known there, instead of being planned again from nothing. Pushed only into an empty workspace (a backend
 * that already has state for it and a file that has some too is refused: which one is right is the
 * operator's call); the file is then renamed `<file>.pushed`. Returns whether it pushed.
 */
export async function tofuAdoptState(context: ToolContext, options: TofuOptions & { readonly workspace: string }, localStateFile: string): Promise<boolean> {
  if (!existsSync(localStateFile)) return false;
  if ((await tofuStateList(context, options)).length > 0) {
    throw new Error(`workspace ${options.workspace} has state in the backend and in ${localStateFile}: keep one (move the file aside, or empty the workspace) and run again`);
  }
  await tofu(context, options, ['state', 'push', '-no-color', localStateFile]);
  renameSync(localStateFile, `${localStateFile}.pushed`);
  context.log.info(`the state of workspace ${options.workspace} moved from ${localStateFile} into the backend (the file is kept as ${path.basename(localStateFile)}.pushed)`);
  return true;
}

/** The addresses the selected workspace's state holds (`state list`). */
export async function tofuStateList(context: ToolContext, options: TofuOptions): Promise<string[]> {
  const held = await tofu(context, options, ['state', 'list', '-no-color']);
  return held.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
}

/** Takes a resource that exists into the state under `address` (`import ADDRESS ID`), with the configuration's variables. */
export async function tofuImport(context: ToolContext, options: TofuOptions & TofuVariables & { readonly address: string; readonly id: string }): Promise<void> {
  await withVarFile(options, (varArgs) => tofu(context, options, ['import', '-input=false', '-no-color', ...lockArgs(options), ...varArgs, options.address, options.id]));
}

/** Deletes a workspace whose resources are gone (after a destroy): `default` is selected first. */
export async function tofuWorkspaceDelete(context: ToolContext, options: TofuOptions & { readonly name: string }): Promise<void> {
  const base = withoutWorkspace(options);
  await tofu(context, base, ['workspace', 'select', '-no-color', 'default']);
  await tofu(context, base, ['workspace', 'delete', '-no-color', options.name]);
}

/** `plan -out` with `-detailed-exitcode`: tells whether anything would change. */
export async function tofuPlan(context: ToolContext, options: TofuOptions & TofuVariables & { readonly out: string; readonly destroy?: boolean }): Promise<{ readonly changed: boolean; readonly planFile: string }> {
  return withVarFile(options, async (varArgs) => {
    const args = ['plan', '-input=false', '-no-color', '-detailed-exitcode', `-out=${options.out}`, ...lockArgs(options), ...varArgs];
    if (options.destroy) args.push('-destroy');
    const result = await tofu(context, options, args, [2]);
    // A dry run cannot know; it shows the apply that would follow a plan with changes.
    return { changed: result.exitCode === 2 || context.dryRun, planFile: options.out };
  });
}

/** Applies a saved plan file: exactly what was planned, nothing else. */
export async function tofuApply(context: ToolContext, options: TofuOptions & { readonly planFile: string }): Promise<void> {
  await tofu(context, options, ['apply', '-input=false', '-no-color', ...lockArgs(options), options.planFile]);
}

/** A resource a saved plan deletes: `replaced` when the plan creates it again (tofu's "must be replaced"). */
export interface PlannedDeletion {
  /** Its address, as `proxmox_virtual_environment_vm.node["osdc-w1"]`. */
  readonly address: string;
  readonly type: string;
  /** Its for_each key or count index, where it has one. */
  readonly key?: string | number;
  readonly replaced: boolean;
  /** What forces the replacement, with the value before and after: `node_name pve1 -> pve2`. */
  readonly because: readonly string[];
}

/** A resource a saved plan creates where none was (not a replacement): its address and the values it is made with. */
export interface PlannedCreation {
  readonly address: string;
  readonly type: string;
  readonly key?: string | number;
  /** Its known attribute values (`vm_id`, `node_name`, ...); those known only once it is made are absent. */
  readonly values: Readonly<Record<string, unknown>>;
}

/** What a saved plan deletes and what it creates anew. */
export interface PlannedChanges {
  readonly deletions: readonly PlannedDeletion[];
  readonly creations: readonly PlannedCreation[];
}

/** A saved plan's deletions and creations, read from `show -json` of the plan file. Not shown: the JSON holds the variables' values. */
export async function tofuPlannedChanges(context: ToolContext, options: TofuOptions, planFile: string): Promise<PlannedChanges> {
  const result = await tofu(context, options, ['show', '-json', '-no-color', planFile], [], () => undefined);
  return plannedChanges(JSON.parse(result.stdout) as unknown);
}

/**
 * The changes in a plan's JSON representation (`tofu show -json PLANFILE`): the resources it deletes
 * (destroyed, or replaced: deleted and created again) and those it creates where none was.
 */
export function plannedChanges(plan: unknown): PlannedChanges {
  interface ResourceChange {
    address: string;
    type: string;
    index?: string | number;
    change: { actions: string[]; before?: Record<string, unknown> | null; after?: Record<string, unknown> | null; replace_paths?: (string | number)[][] };
  }
  const changes = (plan as { resource_changes?: ResourceChange[] }).resource_changes ?? [];
  const at = (value: unknown, route: readonly (string | number)[]): unknown => route.reduce<unknown>((inner, step) => (inner && typeof inner === 'object' ? (inner as Record<string | number, unknown>)[step] : undefined), value);
  const shown = (value: unknown) => (value === undefined ? '(unknown)' : JSON.stringify(value));
  const named = (each: ResourceChange) => ({ address: each.address, type: each.type, ...(each.index !== undefined ? { key: each.index } : {}) });
  return {
    deletions: changes
      .filter((each) => each.change.actions.includes('delete'))
      .map((each) => ({
        ...named(each),
        replaced: each.change.actions.includes('create'),
        because: (each.change.replace_paths ?? []).map((route) => `${route.join('.')} ${shown(at(each.change.before, route))} -> ${shown(at(each.change.after, route))}`),
      })),
    creations: changes.filter((each) => each.change.actions.length === 1 && each.change.actions[0] === 'create').map((each) => ({ ...named(each), values: each.change.after ?? {} })),
  };
}

export interface TofuOutput {
  readonly value: unknown;
  readonly type: unknown;
  readonly sensitive: boolean;
}

/** `output -json`, parsed; sensitive string values are marked secret so they are redacted everywhere. */
export async function tofuOutput(context: ToolContext, options: TofuOptions): Promise<Record<string, TofuOutput>> {
  // Not shown live: the JSON holds sensitive values, which are only known (and redacted) once parsed.
  const result = await tofu(context, options, ['output', '-json', '-no-color'], [], () => undefined);
  const outputs = JSON.parse(result.stdout || '{}') as Record<string, TofuOutput>;
  for (const output of Object.values(outputs)) if (output.sensitive && typeof output.value === 'string') context.secret(output.value);
  return outputs;
}

function withoutWorkspace(options: TofuOptions): TofuOptions {
  const { workspace: _workspace, ...rest } = options;
  return rest;
}

function lockArgs(options: TofuOptions): string[] {
  return options.lockTimeout ? [`-lock-timeout=${options.lockTimeout}`] : [];
}

async function withVarFile<Result>(options: TofuVariables, body: (args: string[]) => Promise<Result>): Promise<Result> {
  const args = (options.varFiles ?? []).map((file) => `-var-file=${file}`);
  if (!options.vars || Object.keys(options.vars).length === 0) return body(args);
  return withPrivateFile('onboarder.tfvars.json', JSON.stringify(options.vars), (file) => body([...args, `-var-file=${file}`]));
}
