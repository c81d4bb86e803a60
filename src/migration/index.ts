// migration/: gated, watched, verified live migration (see DESIGN.md "Migration stages").
export { MigrationManager, type MigrationManagerOptions, type MigrationChoice } from './manager.js';
export type { MigrationEngineHooks, MigrationHosts, MigrationLog } from './hooks.js';
export {
  cannotMigrate,
  type Execution,
  type ExecutionEnd,
  type ExecutionRun,
  type MigrationExecutor,
  type MigrationExecutors,
} from './executor.js';
export { LibvirtExecutor } from './libvirt-executor.js';
export { SimulatedExecutor, type SimulatedExecutorOptions } from './simulated-executor.js';
export { estimateConvergence, convergenceOf, DEFAULT_MAX_DOWNTIME_MS, type ConvergenceInput } from './convergence.js';
export { runPrechecks, isEncrypted, blocksMigration, type PrecheckFacts } from './prechecks.js';
export {
  startPrecopy,
  advance,
  precopyStats,
  precopyParamsFor,
  expectedDowntimeMs,
  type PrecopyParams,
  type PrecopyState,
} from './precopy-model.js';
export { checkMigrationParams, MAX_BANDWIDTH_MIBS, MAX_DOWNTIME_MS, type MigrationParams } from './limits.js';
export { activation, type Activation, type ActivationInput } from './activation.js';
