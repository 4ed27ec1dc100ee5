import { createHash, createPrivateKey, scryptSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadedEnvironment } from '../lib/cli/project.js';
import { fail, ok, type ConfigurationFailure, type Result } from '../lib/failures.js';
import { firstIssue } from '../lib/dsl/schema-issue.js';
import { shortestRedacted } from '../lib/scheduler/redactor.js';
import { environmentSchema, proxyUrlProblem, type Environment, type EnvironmentDefinition, type SecretReference } from './schema.js';

/** `clusters.osdc.controlPlane[2].address`, from a zod issue path. */
export function formatPath(at: readonly PropertyKey[]): string {
  return at.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? String(key) : `.${String(key)}`)).join('') || '(root)';
}

/**
 * Validates an environment definition and resolves its secret references (environment variables or files,
 * relative to the project root) unless only its configuration is needed. The first problem is reported with
 * its path and what to do.
 */
export function loadEnvironment(name: string, definition: EnvironmentDefinition, root: string, needs: 'configuration' | 'secrets' = 'secrets'): Result<LoadedEnvironment<Environment>, ConfigurationFailure> {
  const parsed = environmentSchema.safeParse(definition);
  if (!parsed.success) {
    const issue = firstIssue(parsed.error);
    return fail({ reason: 'invalid-environment', environment: name, path: formatPath(issue.path), message: issue.message, hint: `fix environments/${name}.ts` });
  }
  const sharedState = parsed.data.state.store === 'postgres' ? { kind: 'postgres' as const } : undefined;
  if (needs === 'configuration') return ok({ config: parsed.data, secrets: [], ...(sharedState ? { stateStore: sharedState } : {}) });
  const secrets: string[] = [];
  const warnings: string[] = evenControlPlanes(name, parsed.data);
  const values = new Map<string, string>();
  for (const [at, reference] of secretReferences(parsed.data)) {
    const resolved = readSecret(reference, root);
    if (!resolved.ok) return fail({ reason: 'invalid-environment', environment: name, path: at, message: resolved.error, hint: 'set it before running, or point the reference at another source' });
    if (resolved.value.length < shortestRedacted) warnings.push(`environment ${name}: ${at} is shorter than ${shortestRedacted} characters: it is not redacted from output and logs (a real secret is longer)`);
    secrets.push(resolved.value);
    values.set(at, resolved.value);
    if (at.startsWith('proxy.')) {
      const problem = proxyUrlProblem(resolved.value, true);
      if (problem) return fail({ reason: 'invalid-environment', environment: name, path: at, message: `the secret ${problem}`, hint: 'put the proxy\'s URL in the secret, as http://user:password@host:port' });
      // Its password alone is redacted too (a tool's message may quote it decoded).
      const password = urlPassword(resolved.value);
      if (password && password.length >= shortestRedacted) secrets.push(password);
    }
  }
  let stateStore: LoadedEnvironment<Environment>['stateStore'];
  if (parsed.data.state.store === 'postgres') {
    const url = readSecret(parsed.data.state.url, root);
    if (!url.ok) return fail({ reason: 'invalid-environment', environment: name, path: 'state.url', message: url.error, hint: 'set it before running, or point the reference at another source' });
    stateStore = { kind: 'postgres', url: url.value };
    // The URL is redacted whole; its password alone too (a driver's message may quote it).
    const password = urlPassword(url.value);
    if (password && password.length >= shortestRedacted) secrets.push(password);
  }
  for (const [at, file] of caFiles(parsed.data)) {
    const problem = caFileProblem(file, root);
    if (problem) return fail({ reason: 'invalid-environment', environment: name, path: at, message: problem, hint: "point it at the PEM certificate of the CA that signed the server's certificate" });
  }
  const caCertificate = parsed.data.siteCa ? checkSiteCa(parsed.data.siteCa.certificate, values.get('siteCa.key')!, root) : undefined;
  if (caCertificate && !caCertificate.ok) return fail({ reason: 'invalid-environment', environment: name, path: caCertificate.error.path, message: caCertificate.error.message, hint: "point siteCa at the site CA's certificate and its own key" });
  const config: Environment = { ...parsed.data, ...deployedSecretDigests(name, values, caCertificate?.value) };
  return ok({ config, secrets, ...(warnings.length > 0 ? { warnings } : {}), ...(stateStore ? { stateStore } : {}) });
}

/**
 * The digests of the secrets steps put on the hosts (Environment['secretDigests']), from the values just
 * read, by their paths: scrypt (N=2^14, about 40 ms here), salted with the environment's name and the
 * secret's path, so that the stamps (and a team's database) hold no fast-to-test verifier of a password. Only those secrets: a rotated API token or state
 * URL is used where it is read, and must not run every step again. With them the site CA certificate's
 * sha256 (`caCertificate`: not a secret, but a file the steps put in the clusters).
 */
function deployedSecretDigests(name: string, values: ReadonlyMap<string, string>, caCertificate: string | undefined): Pick<Environment, 'secretDigests'> {
  const digests: Record<string, Record<string, string>> = caCertificate ? { siteCa: { certificate: caCertificate } } : {};
  for (const secretPath of ['siteRegistry.password', 'velero.accessKeyId', 'velero.secretAccessKey', 'siteCa.key', 'proxy.http', 'proxy.https']) {
    const value = values.get(secretPath);
    if (value === undefined) continue;
    const [section, key] = secretPath.split('.') as [string, string];
    (digests[section] ??= {})[key] = scryptSync(value, `onboarder:${name}:${secretPath}`, 16, { N: 2 ** 14 }).toString('hex');
  }
  return Object.keys(digests).length === 0 ? {} : { secretDigests: digests };
}

/** Every secret reference in an environment, with its path. */
export function secretReferences(environment: Environment): [string, SecretReference][] {
  const found: [string, SecretReference][] = environment.proxmox ? [['proxmox.token', environment.proxmox.token]] : [];
  environment.firewalls.forEach((firewall, index) => {
    found.push([`firewalls[${index}].apiKey`, firewall.apiKey], [`firewalls[${index}].apiSecret`, firewall.apiSecret]);
  });
  if (environment.vaultPassword) found.push(['vaultPassword', environment.vaultPassword]);
  if (environment.siteRegistry?.password) found.push(['siteRegistry.password', environment.siteRegistry.password]);
  if (environment.velero) found.push(['velero.accessKeyId', environment.velero.accessKeyId], ['velero.secretAccessKey', environment.velero.secretAccessKey]);
  if (environment.siteCa) found.push(['siteCa.key', environment.siteCa.key]);
  for (const scheme of ['http', 'https'] as const) {
    const url = environment.proxy?.[scheme];
    if (url !== undefined && typeof url !== 'string') found.push([`proxy.${scheme}`, url]);
  }
  if (environment.state.store === 'postgres') found.push(['state.url', environment.state.url]);
  return found;
}

/** Every CA file the environment names for verifying a server's TLS certificate, by its path in the environment. */
function caFiles(environment: Environment): [string, string][] {
  const found: [string, string][] = [];
  environment.firewalls.forEach((firewall, index) => firewall.caFile && found.push([`firewalls[${index}].caFile`, firewall.caFile]));
  environment.upstreamMirrors.forEach((mirror, index) => mirror.caFile && found.push([`upstreamMirrors[${index}].caFile`, mirror.caFile]));
  environment.registryMirrors.forEach((mirror, index) => mirror.caFile && found.push([`registryMirrors[${index}].caFile`, mirror.caFile]));
  if (environment.siteRegistry?.caFile) found.push(['siteRegistry.caFile', environment.siteRegistry.caFile]);
  if (environment.velero?.caFile) found.push(['velero.caFile', environment.velero.caFile]);
  return found;
}

/** Why a CA file cannot verify anything (unreadable, not a PEM certificate, expired), or undefined. */
function caFileProblem(file: string, root: string): string | undefined {
  const read = readCertificate(file, root);
  return read.ok ? undefined : read.error;
}

/** A PEM certificate file (relative to the project), readable, parsed and not expired; or why not. */
function readCertificate(file: string, root: string): Result<{ pem: string; certificate: X509Certificate }, string> {
  let pem: string;
  try {
    pem = readFileSync(path.resolve(root, file), 'utf8');
  } catch {
    return fail(`${file} cannot be read`);
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return fail(`${file} is not a PEM certificate`);
  }
  if (new Date(certificate.validTo).getTime() < Date.now()) return fail(`${file} (${certificate.subject.replace(/\n/g, ', ')}) expired on ${certificate.validTo}`);
  return ok({ pem, certificate });
}

/**
 * The site CA as cert-manager's CA issuer needs it: a readable PEM certificate of a CA (basic constraints
 * CA:TRUE), still valid, and the private key that belongs to it. Returns the certificate's sha256.
 */
function checkSiteCa(certificateFile: string, key: string, root: string): Result<string, { path: string; message: string }> {
  const read = readCertificate(certificateFile, root);
  if (!read.ok) return fail({ path: 'siteCa.certificate', message: read.error });
  const { pem, certificate } = read.value;
  if (!certificate.ca) return fail({ path: 'siteCa.certificate', message: `${certificateFile} (${certificate.subject.replace(/\n/g, ', ')}) is not a CA certificate (basic constraints CA:FALSE): it cannot sign others` });
  let matches = false;
  try {
    matches = certificate.checkPrivateKey(createPrivateKey(key));
  } catch {
    return fail({ path: 'siteCa.key', message: 'is not a PEM private key' });
  }
  if (!matches) return fail({ path: 'siteCa.key', message: `is not the private key of ${certificateFile}` });
  return ok(createHash('sha256').update(pem).digest('hex'));
}

function urlPassword(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).password) || undefined;
  } catch {
    return undefined;
  }
}

/** A secret's value, read when needed; a missing one is an error that names where it was looked for. */
export function readSecret(reference: SecretReference, root: string): Result<string, string> {
  if ('env' in reference) {
    const value = process.env[reference.env];
    return value ? ok(value) : fail(`environment variable ${reference.env} is not set`);
  }
  const file = path.resolve(root, reference.file);
  let value: string;
  try {
    value = readFileSync(file, 'utf8').trim();
  } catch {
    return fail(`secret file ${reference.file} cannot be read`);
  }
  return value ? ok(value) : fail(`secret file ${reference.file} is empty`);
}

/**
 * A control plane of an even number of nodes: its etcd needs more than half of them, so two nodes stop
 * together when either is lost, and four when two are (as kubespray and etcd's documentation warn).
 */
function evenControlPlanes(name: string, config: Environment): string[] {
  return Object.entries(config.clusters)
    .filter(([, cluster]) => cluster.controlPlane.length % 2 === 0)
    .map(([cluster, { controlPlane }]) => {
      const count = controlPlane.length;
      return `environment ${name}: clusters.${cluster}.controlPlane has ${count} nodes: etcd needs ${count / 2 + 1} of them, so it survives the loss of ${count / 2 - 1} node${count / 2 - 1 === 1 ? '' : 's'}, as ${count - 1} would: use an odd number (1, 3 or 5); an even one is fine while a node is replaced`;
    });
}
