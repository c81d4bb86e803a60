export * from './types.js';
export type { HostDriver } from './host-driver.js';
