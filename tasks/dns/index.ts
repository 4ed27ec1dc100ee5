import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand, type ToolContext } from '../../lib/tools/command.js';
import { withScratchDirectory } from '../../lib/state/scratch-directory.js';
import type { Environment } from '../../environments/schema.js';
import { sshExec, sshUpload } from '../../lib/tools/ssh.js';
import { packages } from '../base/index.js';
import { allFinished, sshTarget, tasks } from '../shared/kit.js';
import { desiredRecords, dnsmasqConfig, dnsmasqHosts, ingressRecords } from './dns-records.js';

const configDirectory = '/etc/openspace';

/** The name a query for a cluster's applications names asks for (any name under apps.<cluster> would do). */
const applicationsProbe = 'onboarder-check';

/**
 * Resolves every desired record with one dig call per DNS server (each A record, each CNAME, and a name
 * under each cluster's applications name); returns what differs, naming the server where there are several.
 */
async function wrongRecords(context: ToolContext & { readonly config: Environment }): Promise<string[]> {
  const { servers } = context.config.dns;
  const wrong = await Promise.all(servers.map(async (server) => (await wrongRecordsOn(context, server.address)).map((line) => (servers.length > 1 ? `${server.name}: ${line}` : line))));
  return wrong.flat();
}

async function wrongRecordsOn(context: ToolContext & { readonly config: Environment }, server: string): Promise<string[]> {
  const { config } = context;
  const zone = config.dns.zone;
  const records = desiredRecords(config);
  const wanted: { name: string; type: 'A' | 'CNAME'; values: string[] }[] = [
    ...records.map((record) => ({ name: `${record.name}.${zone}`, type: record.type, values: [record.type === 'CNAME' ? record.value.replace(/\.?$/, '.') : record.value] })),
    ...ingressRecords(config).map((record) => ({ name: `${applicationsProbe}.${record.name}.${zone}`, type: 'A' as const, values: record.addresses })),
  ];
  const queries = wanted.flatMap((record) => [record.name, record.type]);
  const answer = await runCommand(context, ['dig', '+noall', '+answer', '+time=2', '+tries=2', `@${server}`, ...queries], { okExitCodes: [9] });
  if (context.dryRun) return [];
  const found = new Map<string, string[]>();
  for (const line of answer.stdout.split('\n')) {
    const [name, , , type, value] = line.trim().split(/\s+/);
    if (name && type && value) {
      const key = `${name.replace(/\.$/, '')} ${type}`;
      found.set(key, [...(found.get(key) ?? []), value]);
    }
  }
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((value, index) => value === [...b].sort()[index]);
  return wanted
    .filter((record) => !same(found.get(`${record.name} ${record.type}`) ?? [], record.values))
    .map((record) => `${record.name} ${record.type === 'CNAME' ? 'is an alias of' : 'resolves to'} ${(found.get(`${record.name} ${record.type}`) ?? []).join(', ') || 'nothing'}, expected ${record.values.join(', ')}`);
}

/**
 * The systemd unit that runs the zone's dnsmasq on a management host run by systemd, so that the site's DNS
 * comes back when the host restarts (and after dnsmasq dies): started after the network, restarted always.
 */
export function dnsmasqUnit(zone: string, configFile: string, pidFile: string): string {
  return [
    '# Managed by Onboarder (the dns step): changes here are overwritten.',
    '[Unit]',
    `Description=DNS of ${zone} for the OpenSpace site (dnsmasq)`,
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    `ExecStart=/usr/sbin/dnsmasq --keep-in-foreground --conf-file=${configFile} --pid-file=${pidFile} --user=root`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=always',
    'RestartSec=2',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * A fixed script (no input in it) that serves the uploaded zone, as root: $1 the folder the login uploaded
 * the files to (dnsmasq.conf, hosts and the unit; removed here), $2 the folder they are served from, $3 the
 * pid file, $4 the unit's name. The hosts file changed: dnsmasq reloads it (HUP). Its configuration changed
 * (a CNAME, an applications name, which dnsmasq reads only when it starts): it is started again on the new
 * one. On a host run by systemd the unit does it (installed and enabled: the DNS survives a restart of the
 * host), and a dnsmasq an earlier Onboarder started by hand is stopped first. Elsewhere (a container, a test
 * host) the pid file says which dnsmasq is ours, and none running starts one. The pid file outlives its
 * dnsmasq (it is not removed on exit) and its pid may since belong to another process: only a dnsmasq
 * running with this configuration file is signalled.
 */
const serveZone = [
  'staged=$1; conf="$2/dnsmasq.conf"; pid=$(cat "$3" 2>/dev/null); ours=; changed=',
  'mkdir -p "$2" || exit 1',
  'if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] && tr "\\0" "\\n" < "/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--conf-file=$conf"; then ours=1; fi',
  'cmp -s "$staged/dnsmasq.conf" "$conf" || changed=1',
  'install -m 0644 "$staged/hosts" "$2/hosts" && install -m 0644 "$staged/dnsmasq.conf" "$conf" || exit 1',
  // Where an earlier Onboarder kept a copy of the unit.
  'rm -f "$2/$4"',
  'stop() { kill "$pid"; i=0; while [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done; }',
  'if [ -d /run/systemd/system ]; then ' +
    'if [ -n "$ours" ] && ! tr "\\0" "\\n" < "/proc/$pid/cmdline" | grep -qxF -- --keep-in-foreground; then stop; fi; ' +
    'cmp -s "$staged/$4" "/etc/systemd/system/$4" || { install -m 0644 "$staged/$4" "/etc/systemd/system/$4" || exit 1; changed=1; }; ' +
    'rm -rf "$staged"; systemctl daemon-reload || exit 1; systemctl enable "$4" || exit 1; ' +
    'if [ -n "$changed" ]; then exec systemctl restart "$4"; else exec systemctl reload-or-restart "$4"; fi; ' +
    'fi',
  'rm -rf "$staged"',
  'if [ -n "$ours" ] && [ -z "$changed" ]; then exec kill -HUP "$pid"; fi',
  'if [ -n "$ours" ]; then stop; fi',
  'exec dnsmasq --conf-file="$conf" --pid-file="$3" --user=root',
].join('; ');

/**
 * Desired-state DNS (the seed's phase 2.5): the zone is written whole from the configuration (no backups,
 * so no duplicate records), dnsmasq reloads it, and every record is resolved afterwards with dig. Its
 * drift check resolves every record too, so a re-run only rewrites the zone when the server disagrees.
 */
export const dns = tasks.task({
  name: 'dns',
  description: 'Cluster DNS records, desired state, resolution validated with dig',
  supportsDryRun: true,
  // The DNS server is a management host; its dnsmasq is among the management packages.
  deps: [packages],
  estimate: '1m',
  check: async (context) => {
    const wrong = await wrongRecords(context);
    return wrong.length === 0 ? true : { drift: wrong.slice(0, 3).join('; ') + (wrong.length > 3 ? ` and ${wrong.length - 3} more` : '') };
  },
  tools: ['dig'],
  retries: 2,
  retryDelay: '1s',
  run: async (context) => {
    const { config } = context;
    const zone = config.dns.zone;
    const pidFile = `/run/openspace-dnsmasq-${zone}.pid`;
    const unit = `openspace-dnsmasq-${zone.replaceAll('.', '-')}.service`;
    // Each server serves the whole zone (its own listen address): they are peers, and each is done alone;
    // every one is finished with before a failure is reported.
    await allFinished(
      config.dns.servers.map((endpoint) =>
        withScratchDirectory('dns', async (scratch) => {
          const server = sshTarget(config, context.root, endpoint);
          writeFileSync(path.join(scratch, 'dnsmasq.conf'), dnsmasqConfig(config, `${configDirectory}/hosts`, endpoint.address));
          writeFileSync(path.join(scratch, 'hosts'), dnsmasqHosts(config));
          writeFileSync(path.join(scratch, unit), dnsmasqUnit(zone, `${configDirectory}/dnsmasq.conf`, pidFile));
          // Uploaded as the login (relative to its home), then served as root: the login may be another user, with sudo.
          const staged = `.onboarder/dns-${zone}`;
          await sshExec(context, server, ['mkdir', '-p', '-m', '700', staged]);
          for (const file of ['dnsmasq.conf', 'hosts', unit]) await sshUpload(context, server, path.join(scratch, file), `${staged}/${file}`);
          await sshExec(context, server, ['sh', '-c', serveZone, 'serve-zone', staged, configDirectory, pidFile, unit], { asRoot: true });
        }),
      ),
    );

    const wrong = await wrongRecords(context);
    if (wrong.length > 0) throw new Error(`DNS validation failed: ${wrong.join('; ')}`);
    context.log.info(`${desiredRecords(config).length} records and ${ingressRecords(config).length} applications names served for ${zone}`);
  },
});
