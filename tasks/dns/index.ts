import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from '../../lib/tools/command.js';
import { sshExec, sshUpload } from '../../lib/tools/ssh.js';
import { copySshKey } from '../base/index.js';
import { sshTarget, tasks } from '../shared/kit.js';
import { desiredRecords, dnsmasqConfig, dnsmasqHosts } from './dns-records.js';

const configDirectory = '/etc/openspace';

/**
 * Desired-state DNS (the seed's phase 2.5): the zone is written from the configuration every run (no
 * backups, so no duplicate records), dnsmasq reloads it, and every record is resolved afterwards with dig.
 */
export const dns = tasks.task({
  name: 'dns',
  description: 'Cluster DNS records, desired state, resolution validated with dig',
  policy: 'always',
  deps: [copySshKey],
  tools: ['dig'],
  retries: 2,
  retryDelay: '1s',
  run: async (context) => {
    const { config } = context;
    const server = sshTarget(config, context.root, config.dns.server);
    const zone = config.dns.zone;
    const pidFile = `/run/openspace-dnsmasq-${zone}.pid`;
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'onboarder-dns-'));
    try {
      writeFileSync(path.join(scratch, 'dnsmasq.conf'), dnsmasqConfig(config, `${configDirectory}/hosts`));
      writeFileSync(path.join(scratch, 'hosts'), dnsmasqHosts(config));
      await sshExec(context, server, ['mkdir', '-p', configDirectory]);
      await sshUpload(context, server, path.join(scratch, 'dnsmasq.conf'), `${configDirectory}/dnsmasq.conf`);
      await sshUpload(context, server, path.join(scratch, 'hosts'), `${configDirectory}/hosts`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    // A fixed script (no input in it): reload a running dnsmasq, else start one.
    const reloadOrStart = `if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then kill -HUP "$(cat "$1")"; else dnsmasq --conf-file="$2" --pid-file="$1" --user=root; fi`;
    await sshExec(context, server, ['sh', '-c', reloadOrStart, 'reload-dnsmasq', pidFile, `${configDirectory}/dnsmasq.conf`]);

    const wrong: string[] = [];
    for (const record of desiredRecords(config).filter((entry) => entry.type === 'A')) {
      const fqdn = `${record.name}.${zone}`;
      const answer = await runCommand(context, ['dig', '+short', '+time=2', '+tries=2', `@${config.dns.server.address}`, fqdn, 'A']);
      if (!context.dryRun && answer.stdout.trim() !== record.value) wrong.push(`${fqdn} resolved to '${answer.stdout.trim()}', expected ${record.value}`);
    }
    if (wrong.length > 0) throw new Error(`DNS validation failed: ${wrong.join('; ')}`);
    context.log.info(`${desiredRecords(config).length} records served for ${zone}`);
  },
});
