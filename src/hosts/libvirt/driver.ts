import type { LibvirtHostConfig } from '../../model/config.js';
import { BillboardError } from '../../model/errors.js';
import { safeText } from '../../model/text.js';
import type { HostDriver } from '../../model/host-driver.js';
import type { DomainInfo, JobStats, MigrateOptions, NodeInfo } from '../../model/types.js';
import { DomainXmlError, parseDomainXml } from '../domain-xml.js';
import { asHostError, classifyVirshError, hostError, isolateUnsupported, timeoutError, type HostErrorCode } from '../errors.js';
import { framingNonce, markPrefix, type ParsedBatch } from '../virsh/batch.js';
import { runLocalVirsh } from './local-virsh.js';
import { VirshControl, type VirshRunOptions } from '../virsh/control.js';
import type { Logger } from '../logger.js';
import {
  isTestUri,
  MAC_RE,
  multiCommand,
  UUID_RE,
} from '../virsh/commands.js';
import { domainStateFromNumber, parseDomIfAddr, parseFreecell } from '../virsh/text.js';

// HostDriver over the native binding (@unraid/libvirt), for any libvirt URI. One connection per host,
// kept open: with test:///file URIs the test driver's state (suspend, destroy) lives in that connection,
// so a scan after suspend shows 'paused'. What the binding lacks (migration, job stats, link state,
// interface addresses) runs through the local `virsh -c URI`.
// The binding is loaded dynamically so that without it only this driver fails, with one clear line.

export const BINDING_MISSING = 'libvirt binding not available: install libvirt-dev, then `npm rebuild @unraid/libvirt`';

interface LvInfo {
  state: number;
  maxMem: number;
  memory: number;
  nrVirtCpu: number;
}
interface LvDomain {
  getXMLDesc(flags?: number): Promise<string>;
  getInfo(): Promise<LvInfo>;
  getUUIDString(): Promise<string>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
  destroy(): Promise<void>;
}
interface LvHypervisor {
  connectOpen(): Promise<void>;
  connectClose(): Promise<void>;
  connectListAllDomains(flags?: number): Promise<LvDomain[]>;
  domainLookupByUUIDString(uuid: string): Promise<LvDomain>;
  nodeGetInfo(): Promise<{ model: string; memory: number; cpus: number }>;
}
interface LvModule {
  Hypervisor: new (o: { uri: string }) => LvHypervisor;
}

export interface LibvirtDriverOptions {
  log?: Logger;
  commandTimeoutMs?: number;
  virshPath?: string;
  migrateTimeoutMs?: number;
  /** module to load instead of @unraid/libvirt (tests use a missing one) */
  bindingModule?: string;
}

// libvirt virErrorNumber values that matter here
const VIR_ERR_NO_SUPPORT = 3;
const VIR_ERR_NO_CONNECT = 5;
const VIR_ERR_INVALID_CONN = 19;
const VIR_ERR_SYSTEM_ERROR = 38;
const VIR_ERR_RPC = 39;
const VIR_ERR_NO_DOMAIN = 42;
const VIR_ERR_OPERATION_TIMEOUT = 68;

const bindingCache = new Map<string, Promise<LvModule>>();

function loadBinding(name: string): Promise<LvModule> {
  let p = bindingCache.get(name);
  if (!p) {
    p = (import(name) as Promise<LvModule>).then((m) => {
      if (typeof m.Hypervisor !== 'function') throw new Error('no Hypervisor export');
      return m;
    });
    bindingCache.set(name, p);
  }
  return p;
}

export class LibvirtDriver implements HostDriver {
  readonly kind = 'libvirt' as const;
  readonly name: string;
  readonly uri: string;
  private hv?: LvHypervisor;
  private opening?: Promise<LvHypervisor>;
  private readonly timeoutMs: number;
  private readonly migrateTimeoutMs: number;
  private readonly log?: Logger;
  private readonly ctl: VirshControl;

  constructor(
    readonly host: LibvirtHostConfig,
    private readonly opts: LibvirtDriverOptions = {},
  ) {
    this.name = host.name;
    this.uri = host.uri;
    this.timeoutMs = opts.commandTimeoutMs ?? 30_000;
    this.migrateTimeoutMs = opts.migrateTimeoutMs ?? 6 * 3600_000;
    this.log = opts.log;
    this.ctl = new VirshControl(this.name, (args, o) => this.virsh(args, o), this.migrateTimeoutMs);
  }

  private fail(e: unknown, what: string): BillboardError {
    if (e instanceof BillboardError) return e;
    const err = e as { code?: unknown; message?: string };
    const msg = (err.message ?? String(e)).replace(/\s+/g, ' ');
    const n = typeof err.code === 'number' ? err.code : undefined;
    let code: HostErrorCode = 'HOST_ERROR';
    if (n === VIR_ERR_NO_DOMAIN) code = 'NOT_FOUND';
    else if (n === VIR_ERR_NO_SUPPORT) code = 'UNSUPPORTED';
    else if (n === VIR_ERR_OPERATION_TIMEOUT) code = 'TIMEOUT';
    else if (n === VIR_ERR_NO_CONNECT || n === VIR_ERR_INVALID_CONN || n === VIR_ERR_SYSTEM_ERROR || n === VIR_ERR_RPC) code = 'HOST_DOWN';
    else code = classifyVirshError(msg); // the binding often gives code -1: fall back to libvirt's message
    if (code === 'HOST_DOWN') this.drop();
    return hostError(code, this.name, `${what}: ${msg}`);
  }

  /** Bound every native call: a hung libvirtd must not hang the console. */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.drop();
        reject(timeoutError(this.name, what, this.timeoutMs));
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([fn(), timeout]);
    } catch (e) {
      throw this.fail(e, what);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Forget a connection that failed; the next call opens a new one. */
  private drop(): void {
    const hv = this.hv;
    this.hv = undefined;
    if (hv) void hv.connectClose().catch(() => undefined);
  }

  private conn(): Promise<LvHypervisor> {
    if (this.hv) return Promise.resolve(this.hv);
    if (!this.opening) {
      this.opening = this.open().finally(() => {
        this.opening = undefined;
      });
    }
    return this.opening;
  }

  private async open(): Promise<LvHypervisor> {
    let mod: LvModule;
    let hv: LvHypervisor;
    try {
      mod = await loadBinding(this.opts.bindingModule ?? '@unraid/libvirt');
      hv = new mod.Hypervisor({ uri: this.uri });
    } catch (e) {
      this.log?.debug?.({ host: this.name, err: (e as Error).message }, 'libvirt binding failed to load');
      throw hostError('UNSUPPORTED', this.name, BINDING_MISSING);
    }
    await this.call(`cannot connect to ${this.uri}`, () => hv.connectOpen()).catch((e: BillboardError) => {
      throw e.code === 'HOST_ERROR' ? new BillboardError('HOST_DOWN', e.message, e.details) : e;
    });
    this.hv = hv;
    return hv;
  }

  async connect(): Promise<void> {
    await this.conn();
  }

  async close(): Promise<void> {
    const hv = this.hv ?? (this.opening ? await this.opening.catch(() => undefined) : undefined);
    this.hv = undefined;
    if (hv) await hv.connectClose().catch(() => undefined);
  }

  private virsh(args: string[], o: VirshRunOptions = {}): Promise<string> {
    return runLocalVirsh(args, {
      host: this.name,
      uri: this.uri,
      virshPath: this.opts.virshPath,
      timeoutMs: o.timeoutMs ?? this.timeoutMs,
      signal: o.signal,
      guardMigrateOf: o.guardMigrateOf,
    });
  }

  private async lookup(uuid: string): Promise<LvDomain> {
    if (!UUID_RE.test(uuid)) throw hostError('NOT_FOUND', this.name, `not a domain UUID: ${JSON.stringify(uuid).slice(0, 60)}`);
    const hv = await this.conn();
    return this.call(`domain ${uuid}`, () => hv.domainLookupByUUIDString(uuid.toLowerCase()));
  }

  /** Interface addresses of running domains, one local virsh process for all; failures only lose IPs. */
  private async addresses(uuids: string[]): Promise<Map<string, Map<string, string[]>>> {
    const out = new Map<string, Map<string, string[]>>();
    if (!uuids.length) return out;
    const sep = `${markPrefix(framingNonce())}if:`; // a fresh nonce: no output between can hold it
    try {
      const text = await this.virsh([multiCommand([...uuids.flatMap((u) => [['echo', sep + u], ['domifaddr', u]]), ['echo', sep + 'end']])]);
      for (const part of text.split(sep).slice(1)) {
        const uuid = part.slice(0, 36).toLowerCase();
        if (UUID_RE.test(uuid)) out.set(uuid, parseDomIfAddr(part.slice(36)));
      }
    } catch (e) {
      this.log?.debug?.({ host: this.name, err: (e as Error).message }, 'domifaddr failed');
    }
    return out;
  }

  async inventory(): Promise<DomainInfo[]> {
    const hv = await this.conn();
    const doms = await this.call('list domains', () => hv.connectListAllDomains());
    const raw = await Promise.all(
      doms.map(async (d) => {
        try {
          const [uuid, info, xml] = await Promise.all([
            this.call('domain uuid', () => d.getUUIDString()),
            this.call('domain info', () => d.getInfo()),
            this.call('domain xml', () => d.getXMLDesc()),
          ]);
          return { uuid: uuid.toLowerCase(), state: domainStateFromNumber(info.state), xml };
        } catch (e) {
          if ((e as BillboardError).code === 'NOT_FOUND') return undefined; // vanished while listing
          throw e;
        }
      }),
    );
    const present = raw.filter((r): r is NonNullable<typeof r> => r !== undefined);
    const ips = await this.addresses(present.filter((r) => r.state === 'running' || r.state === 'paused').map((r) => r.uuid));
    return present.map((r) => {
      try {
        return parseDomainXml(r.xml, { state: r.state, ips: ips.get(r.uuid) });
      } catch (e) {
        if (e instanceof DomainXmlError) throw hostError('HOST_ERROR', this.name, `${e.message} for domain ${r.uuid}`);
        throw asHostError(this.name, e);
      }
    });
  }

  async nodeInfo(): Promise<NodeInfo> {
    const hv = await this.conn();
    const n = await this.call('node info', () => hv.nodeGetInfo());
    let free = 0;
    try {
      free = parseFreecell(await this.virsh(['freecell', '--all'])) ?? 0;
    } catch {
      /* free memory unknown: 0 */
    }
    const model = safeText(n.model, 64);
    return { cpus: n.cpus, cpuModel: model, arch: model, memoryKiB: n.memory, freeMemoryKiB: free };
  }

  async scanAll(): Promise<ParsedBatch> {
    const [domains, node] = await Promise.all([this.inventory(), this.nodeInfo()]);
    return { domains, node };
  }

  async domainXml(uuid: string): Promise<string> {
    const d = await this.lookup(uuid);
    return this.call('dumpxml', () => d.getXMLDesc());
  }

  async stop(uuid: string): Promise<void> {
    const d = await this.lookup(uuid);
    await this.call(`destroy ${uuid}`, () => d.destroy());
  }

  async suspend(uuid: string): Promise<void> {
    const d = await this.lookup(uuid);
    await this.call(`suspend ${uuid}`, () => d.suspend());
  }

  async resume(uuid: string): Promise<void> {
    const d = await this.lookup(uuid);
    await this.call(`resume ${uuid}`, () => d.resume());
  }

  async isolate(uuid: string): Promise<void> {
    const xml = await this.domainXml(uuid);
    if (isTestUri(this.uri)) throw isolateUnsupported(this.name, uuid, 'the libvirt test driver has no link state');
    let macs: string[];
    try {
      macs = parseDomainXml(xml, { state: 'unknown' }).macs.filter((m) => MAC_RE.test(m));
    } catch (e) {
      throw hostError('HOST_ERROR', this.name, (e as Error).message);
    }
    await this.ctl.setLinksDown(uuid, macs);
  }

  async migrate(uuid: string, opts: MigrateOptions, signal?: AbortSignal): Promise<void> {
    if (!UUID_RE.test(uuid)) throw hostError('NOT_FOUND', this.name, `not a domain UUID: ${uuid.slice(0, 60)}`);
    await this.ctl.migrate(uuid, opts, signal);
  }

  jobStats(uuid: string): Promise<JobStats | null> {
    return this.ctl.jobStats(uuid);
  }

  completedJobStats(uuid: string): Promise<JobStats | null> {
    return this.ctl.jobStats(uuid, true);
  }

  abortJob(uuid: string): Promise<void> {
    return this.ctl.abortJob(uuid);
  }

  setMaxDowntime(uuid: string, ms: number): Promise<void> {
    return this.ctl.setMaxDowntime(uuid, ms);
  }

  setBandwidth(uuid: string, mibs: number): Promise<void> {
    return this.ctl.setBandwidth(uuid, mibs);
  }
}
