import type { HostConfig } from '../model/config.js';
import type { HostDriver } from '../model/host-driver.js';
import { LibvirtDriver } from './libvirt/driver.js';
import type { Logger } from './logger.js';
import { SshDriver } from './ssh/driver.js';

// The one place a host's config becomes a driver: ssh hosts get the SSH transport (ssh2 + virsh on the host),
// libvirt hosts the native binding (with the local virsh for what it lacks). Defaults: defaults.ts.

export interface DriverOptions {
  commandTimeoutMs?: number;
  virshPath?: string;
}

export function createDriver(h: HostConfig, log?: Logger, opts: DriverOptions = {}): HostDriver {
  if (h.driver === 'ssh') return new SshDriver(h, { log, ...opts });
  return new LibvirtDriver(h, { log, ...opts });
}
