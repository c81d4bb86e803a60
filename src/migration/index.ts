// migration/: gated, watched, verified live migration (see DESIGN.md "Migration stages").
export { MigrationManager, type MigrationManagerOptions, type MigrationChoice } from './manager.js';
export type { MigrationEngineHooks, MigrationHosts } from './hooks.js';
export { estimateConvergence, convergenceOf, DEFAULT_MAX_DOWNTIME_MS, type ConvergenceInput } from './convergence.js';
export { runPrechecks, isEncrypted, blocksMigration, type PrecheckFacts } from './prechecks.js';
export { startPrecopy, advance, precopyStats, demoPrecopyParams, expectedDowntimeMs, type PrecopyParams, type PrecopyState } from './precopy-model.js';
export { checkMigrationParams, MAX_BANDWIDTH_MIBS, MAX_DOWNTIME_MS, type MigrationParams } from './limits.js';
export { activation, type Activation, type ActivationInput } from './activation.js';
