// The container images each chart runs at its version, installed with the values the catalog gives it: what
// an air-gapped site's registry must hold for the chart to start (Zarf lists a package's images so; its
// `zarf dev find-images` renders the charts to find them). Keyed `<chart>@<version>`, references with their
// tag. Filled by `tsx deploy.ts bundle:find-images` on a machine with helm (the runner image has it): it
// renders each chart of the environment's versions with `helm template` and prints the lines to add here.
// bundle:create refuses a bundle whose charts run an image this table does not list.
//
// Empty: no chart has been rendered where this was written (no helm, no network), so none is listed yet.

export const chartImages: Readonly<Record<string, readonly string[]>> = {};
