// An environment is a TypeScript module: a duplicate cluster name, a typo or a role that does not exist
// must not compile. Checked by test/unit/types.test.ts.
import { defineEnvironment, type EnvironmentDefinition } from '../../../environments/schema.js';
import { example } from '../../../environments/example.js';

const cluster = { role: 'osdc', distribution: 'kubeadm', controlPlane: [{ name: 'a-cp1', address: '192.0.2.81', vmId: 8101 }], apiAddress: '192.0.2.80', podCidr: '10.60.0.0/16', serviceCidr: '10.61.0.0/16' } satisfies EnvironmentDefinition['clusters'][string];

export const duplicate: EnvironmentDefinition = defineEnvironment({
  ...example,
  clusters: {
    mcm: example.clusters.mcm!,
    'osdc-a': cluster,
    // expect-error: An object literal cannot have multiple properties with the same name
    'osdc-a': cluster,
  },
});

export const typo: EnvironmentDefinition = defineEnvironment({
  ...example,
  clusters: {
    mcm: example.clusters.mcm!,
    // expect-error: 'wrokers' does not exist
    'osdc-a': { ...cluster, wrokers: [] },
    // expect-error: Type '"data-plane"' is not assignable to type
    'osdc-b': { ...cluster, role: 'data-plane' },
  },
});
