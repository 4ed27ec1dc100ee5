import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { fail, ok } from '../../lib/failures.js';
import { writeFileAtomic } from '../../lib/fs/atomic-write.js';
import { describePgError } from '../../lib/state/postgres-state-store.js';
import type { StatePull } from '../../lib/cli/project.js';
import type { Environment } from '../../environments/schema.js';
import { tofuSchema, tofuStateDirectory } from './index.js';

/**
 * `state pull` for the VMs: each cluster's OpenTofu state comes back from tofu's pg backend into the local
 * backend's files (`<state>/tofu/workspaces/<cluster>/terraform.tfstate`, 0600), so a site that leaves
 * PostgreSQL keeps its VMs instead of planning them again from nothing. Read from the backend's table
 * (`<schema>.states`: a row per workspace, its state document in `data`), the one the pg backend creates
 * and tofu's `state pull` reads: no tofu working directory, provider or lock is needed for it. A
 * `.pushed` copy left when the state moved into the database is superseded and removed.
 */
export const vmStatePull: StatePull<Environment> = {
  async pull({ config, url, stateDirectory, force }) {
    const schema = tofuSchema(config.name);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    let rows: { name: string; data: string }[];
    try {
      await client.connect();
      const table = await client.query<{ found: string | null }>('SELECT to_regclass($1) AS found', [`${client.escapeIdentifier(schema)}.states`]);
      if (!table.rows[0]?.found) return ok(`no VM state in PostgreSQL (schema ${schema}): nothing to pull for OpenTofu`);
      rows = (await client.query<{ name: string; data: string }>(`SELECT name, data FROM ${client.escapeIdentifier(schema)}.states WHERE data <> '' ORDER BY name`)).rows;
    } catch (error) {
      return fail({ message: `reading the VMs' OpenTofu state (schema ${schema}) failed: ${describePgError(error, url)}`, hint: 'check that the database answers, then pull again' });
    } finally {
      await client.end().catch(() => undefined);
    }
    const directory = tofuStateDirectory(stateDirectory);
    // A workspace name becomes a directory name: one that could leave the state directory is not written.
    const unsafe = rows.find((row) => !/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(row.name));
    if (unsafe) return fail({ message: `schema ${schema} holds a workspace named ${JSON.stringify(unsafe.name)}, which is not a name a cluster has`, hint: 'delete that workspace (tofu workspace delete), then pull again' });
    const files = rows.map((row) => ({ ...row, file: row.name === 'default' ? path.join(directory, 'terraform.tfstate') : path.join(directory, 'workspaces', row.name, 'terraform.tfstate') }));
    const present = files.filter((entry) => existsSync(entry.file));
    if (present.length > 0 && !force) {
      return fail({ message: `${present[0]!.file} already holds the VMs' state of workspace ${present[0]!.name}${present.length > 1 ? ` (and ${present.length - 1} more)` : ''}`, hint: 'state pull with --force to replace it with the database\'s' });
    }
    for (const entry of files) {
      mkdirSync(path.dirname(entry.file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(entry.file, entry.data);
      rmSync(`${entry.file}.pushed`, { force: true });
    }
    if (files.length === 0) return ok(`no VM state in PostgreSQL (schema ${schema}): nothing to pull for OpenTofu`);
    return ok(`pulled the VMs' OpenTofu state of ${files.length} workspace${files.length === 1 ? '' : 's'} (${files.map((entry) => entry.name).join(', ')}) from schema ${schema} to ${directory}`);
  },
};
