import type { StoreApi } from '../store/api.js';
import type { EnforceFn } from './enforcement.js';

/** pino-compatible subset */
export interface EngineLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error?(o: object, msg?: string): void;
}

/** Defaults for the caps on what an outsider can make the engine track. */
export const DEFAULT_MAX_VMS = 100_000;
export const DEFAULT_AUTO_REQUESTS_PER_SEC = 20;
export const DEFAULT_MAX_BEACON_ONLY = 256;
export const DEFAULT_MAX_BEACON_ONLY_PER_SOURCE = 16;
export const DEFAULT_MAX_BEACON_REQUESTS = 256;
export const DEFAULT_MAX_UNTRUSTED_SOURCES = 32;

export interface EngineOptions {
  store: StoreApi;
  beaconIntervalS: number;
  missedBeforeSilent: number;
  enforcement: 'ask' | 'isolate' | 'stop';
  /** injectable clock (ms since epoch) for scenarios */
  now?: () => number;
  /** active scan on suspicion; undefined hosts = all hosts */
  requestScan?: (hosts?: string[]) => void;
  /** executes an enforcement action through the host drivers (the console wires it); see EnforceFn */
  enforce?: EnforceFn;
  log?: EngineLog;
  /** a read-only session opens no registration requests (and the console forces enforcement to 'ask') */
  readOnly?: boolean;
  /** cap on identities tracked (an outsider with fresh keys can invent uuids) */
  maxVms?: number;
  /** automatic registration requests per second (token bucket, burst ×10) */
  autoRequestsPerSec?: number;
  /** identities tracked from beacons alone (no registration, no scan): anyone can mint them */
  maxBeaconOnly?: number;
  /** of those, how many one source address may announce (more are tallied per source) */
  maxBeaconOnlyPerSource?: number;
  /** pending registration requests that beacons opened, in total */
  maxBeaconRequests?: number;
  /** sha256 values a host's /etc/libvirt/hooks/qemu may have (ADMISSION_BYPASSED otherwise); undefined: admission off.
   *  A function is asked at each scan, so a config reloaded meanwhile (SIGHUP) judges the next scan. */
  admissionHooks?: readonly string[] | (() => readonly string[] | undefined);
  /** source addresses tallied one by one for unauthenticated junk (the rest share one finding) */
  maxUntrustedSources?: number;
}
