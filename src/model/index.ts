export * from './types.js';
export type { HostDriver, HostScan, JobControl } from './host-driver.js';
