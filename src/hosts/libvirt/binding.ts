import { classifyVirshError, type HostErrorCode } from '../errors.js';

// The native libvirt binding (@unraid/libvirt): the part of its API the driver uses, how it is loaded, and how
// its errors map to host error codes. It is loaded dynamically so that without it only the libvirt driver
// fails, with one clear line.

export const BINDING_MISSING = 'libvirt binding not available: install libvirt-dev, then `npm rebuild @unraid/libvirt`';
const BINDING_MODULE = '@unraid/libvirt';

export interface LvInfo {
  state: number;
  maxMem: number;
  memory: number;
  nrVirtCpu: number;
}

export interface LvDomain {
  getXMLDesc(flags?: number): Promise<string>;
  getInfo(): Promise<LvInfo>;
  getUUIDString(): Promise<string>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  destroy(): Promise<void>;
}

export interface LvHypervisor {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  connectListAllDomains(flags?: number): Promise<LvDomain[]>;
  domainLookupByUUIDString(uuid: string): Promise<LvDomain>;
  nodeGetInfo(): Promise<{ model: string; memory: number; cpus: number }>;
}

export interface LvModule {
  Hypervisor: new (o: { uri: string }) => LvHypervisor;
}

let binding: Promise<LvModule> | undefined;

/** The binding module, loaded once per process (a failed load stays failed: it will not appear later). */
export function loadBinding(): Promise<LvModule> {
  binding ??= (import(BINDING_MODULE) as Promise<LvModule>).then((m) => {
    if (typeof m.Hypervisor !== 'function') throw new Error('no Hypervisor export');
    return m;
  });
  return binding;
}

// libvirt virErrorNumber values that matter here
const VIR_ERR_NO_SUPPORT = 3;
const VIR_ERR_NO_CONNECT = 5;
const VIR_ERR_INVALID_CONN = 19;
const VIR_ERR_SYSTEM_ERROR = 38;
const VIR_ERR_RPC = 39;
const VIR_ERR_NO_DOMAIN = 42;
const VIR_ERR_OPERATION_TIMEOUT = 68;
const CONNECTION_LOST = new Set([VIR_ERR_NO_CONNECT, VIR_ERR_INVALID_CONN, VIR_ERR_SYSTEM_ERROR, VIR_ERR_RPC]);

/** The host error code for a binding error: by libvirt's error number, else (the binding often gives -1) its message. */
export function bindingErrorCode(code: unknown, message: string): HostErrorCode {
  const n = typeof code === 'number' ? code : undefined;
  if (n === VIR_ERR_NO_DOMAIN) return 'NOT_FOUND';
  if (n === VIR_ERR_NO_SUPPORT) return 'UNSUPPORTED';
  if (n === VIR_ERR_OPERATION_TIMEOUT) return 'TIMEOUT';
  if (n !== undefined && CONNECTION_LOST.has(n)) return 'HOST_DOWN';
  return classifyVirshError(message);
}
