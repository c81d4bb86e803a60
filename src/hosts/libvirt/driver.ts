import type { LibvirtHostConfig } from '../../model/config.js';
import { BillboardError } from '../../model/errors.js';
import type { EventChannel, HostDriver, HostScan, ScanOptions } from '../../model/host-driver.js';
import { safeText } from '../../model/text.js';
import type { DomainInfo, DomainState, NodeInfo } from '../../model/types.js';
import { COMMAND_TIMEOUT_MS, MIGRATE_TIMEOUT_MS, VIRSH } from '../defaults.js';
import { DomainXmlError, isRunningOrPaused, parseDomainXml, withSavedDefinition } from '../domain-xml.js';
import { openLocalEventChannel } from '../events/channel.js';
import { asHostError, hostError, isolateUnsupported, timeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import { SharedStart } from '../shared-start.js';
import { framingNonce, markPrefix } from '../virsh/framing.js';
import { domainUuid, eventsUnavailableFor, isTestUri, MAC_RE, multiCommand, testDriverFreeMemory, UUID_RE } from '../virsh/commands.js';
import { VirshControl, type VirshRunOptions } from '../virsh/control.js';
import { domainStateFromNumber, parseDomIfAddr, parseFreecell } from '../virsh/text.js';
import { BINDING_MISSING, bindingErrorCode, loadBinding, type LvDomain, type LvHypervisor, type LvModule } from './binding.js';
import { runLocalVirsh } from './local-virsh.js';

// HostDriver over the native binding (binding.ts), for any libvirt URI. One connection per host, kept open:
// with test:///file URIs the test driver's state (suspend, destroy) lives in that connection, so a scan after
// suspend shows 'paused'. What the binding lacks (migration, job stats, link state, interface addresses) runs
// through the local `virsh -c URI`.

/** virDomainXMLFlags: the definition saved for the next start, not the running one */
const VIR_DOMAIN_XML_INACTIVE = 2;

/** one domain as read through the binding, before parsing */
interface ReadDomain {
  uuid: string;
  state: DomainState;
  xml: string;
  saved?: string;
}

export interface LibvirtDriverOptions {
  log?: Logger;
  commandTimeoutMs?: number;
  virshPath?: string;
  migrateTimeoutMs?: number;
}

export class LibvirtDriver implements HostDriver {
  readonly kind = 'libvirt' as const;
  readonly name: string;
  readonly uri: string;
  private hv?: LvHypervisor;
  private readonly opening = new SharedStart<LvHypervisor>();
  private readonly timeoutMs: number;
  private readonly log?: Logger;
  private readonly ctl: VirshControl;

  constructor(
    readonly host: LibvirtHostConfig,
    private readonly opts: LibvirtDriverOptions = {},
  ) {
    this.name = host.name;
    this.uri = host.uri;
    this.timeoutMs = opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.log = opts.log;
    this.ctl = new VirshControl({
      host: this.name,
      run: (args, o) => this.virsh(args, o),
      migrateTimeoutMs: opts.migrateTimeoutMs ?? MIGRATE_TIMEOUT_MS,
    });
  }

  /** migration and job control: through the local virsh (the binding has neither) */
  get jobs(): VirshControl {
    return this.ctl;
  }

  private fail(e: unknown, what: string): BillboardError {
    if (e instanceof BillboardError) return e;
    const err = e as { code?: unknown; message?: string };
    const msg = (err.message ?? String(e)).replace(/\s+/g, ' ');
    const code = bindingErrorCode(err.code, msg);
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
    return this.hv ? Promise.resolve(this.hv) : this.opening.join(() => this.open());
  }

  private async open(): Promise<LvHypervisor> {
    let mod: LvModule;
    let hv: LvHypervisor;
    try {
      mod = await loadBinding();
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
    const hv = this.hv ?? (await this.opening.current?.catch(() => undefined));
    this.hv = undefined;
    if (hv) await hv.connectClose().catch(() => undefined);
  }

  /** the binding has no events: a local `virsh -c URI event` child streams them (events/channel.ts) */
  openEvents(): Promise<EventChannel> {
    return openLocalEventChannel(this.opts.virshPath ?? VIRSH, this.uri);
  }

  /** the test driver's events stay inside the process that made them (here, the binding's connection) */
  get eventsUnavailable(): string | undefined {
    return eventsUnavailableFor(this.uri);
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
    const u = domainUuid(this.name, uuid);
    const hv = await this.conn();
    return this.call(`domain ${u}`, () => hv.domainLookupByUUIDString(u));
  }

  /** Interface addresses of running domains, one local virsh process for all; failures only lose IPs. */
  private async addresses(uuids: string[]): Promise<Map<string, Map<string, string[]>>> {
    const out = new Map<string, Map<string, string[]>>();
    if (!uuids.length) return out;
    const sep = `${markPrefix(framingNonce())}if:`; // a fresh nonce: no output between can hold it
    try {
      const text = await this.virsh([
        multiCommand([
          ...uuids.flatMap((u) => [
            ['echo', sep + u],
            ['domifaddr', u],
          ]),
          ['echo', sep + 'end'],
        ]),
      ]);
      for (const part of text.split(sep).slice(1)) {
        const uuid = part.slice(0, 36).toLowerCase();
        if (UUID_RE.test(uuid)) out.set(uuid, parseDomIfAddr(part.slice(36)));
      }
    } catch (e) {
      this.log?.debug?.({ host: this.name, err: (e as Error).message }, 'domifaddr failed');
    }
    return out;
  }

  async inventory(o: ScanOptions = {}): Promise<DomainInfo[]> {
    const hv = await this.conn();
    const doms = await this.call('list domains', () => hv.connectListAllDomains());
    const raw = await Promise.all(doms.map((d) => this.readDomain(d, o.savedDefinitions === true)));
    const present = raw.filter((r): r is ReadDomain => r !== undefined);
    const ips = await this.addresses(present.filter((r) => isRunningOrPaused(r.state)).map((r) => r.uuid));
    return present.map((r) => this.parsed(r, ips.get(r.uuid), o.savedDefinitions === true));
  }

  /** a domain read as a scan reports it (with `saved`, its saved definition as read); a bad XML is a host error */
  private parsed(r: ReadDomain, ips: Map<string, string[]> | undefined, saved: boolean): DomainInfo {
    try {
      const info = parseDomainXml(r.xml, { state: r.state, ips });
      return saved ? withSavedDefinition(info, r.saved) : info;
    } catch (e) {
      if (e instanceof DomainXmlError) throw hostError('HOST_ERROR', this.name, `${e.message} for domain ${r.uuid}`);
      throw asHostError(this.name, e);
    }
  }

  /** one listed domain's UUID, state, XML and (with `saved`, when it runs) saved definition; undefined: it vanished */
  private async readDomain(d: LvDomain, saved: boolean): Promise<ReadDomain | undefined> {
    try {
      const [uuid, info, xml] = await Promise.all([
        this.call('domain uuid', () => d.getUUIDString()),
        this.call('domain info', () => d.getInfo()),
        this.call('domain xml', () => d.getXMLDesc()),
      ]);
      const state = domainStateFromNumber(info.state);
      const inactive = saved && isRunningOrPaused(state) ? await this.savedXml(d) : undefined;
      return { uuid: uuid.toLowerCase(), state, xml, ...(inactive !== undefined ? { saved: inactive } : {}) };
    } catch (e) {
      if ((e as BillboardError).code === 'NOT_FOUND') return undefined; // vanished while listing
      throw e;
    }
  }

  /** the saved definition (a failed read is none read: the running definition is still what is reported) */
  private savedXml(d: LvDomain): Promise<string | undefined> {
    return this.call('domain xml --inactive', () => d.getXMLDesc(VIR_DOMAIN_XML_INACTIVE)).catch(() => undefined);
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
    return testDriverFreeMemory({ cpus: n.cpus, cpuModel: model, arch: model, memoryKiB: n.memory, freeMemoryKiB: free }, this.uri);
  }

  async scanAll(o: ScanOptions = {}): Promise<HostScan> {
    const [domains, node] = await Promise.all([this.inventory(o), this.nodeInfo()]);
    return { domains, node, ...(o.savedDefinitions ? { savedRead: true } : {}) };
  }

  async domainXml(uuid: string): Promise<string> {
    const d = await this.lookup(uuid);
    return this.call('dumpxml', () => d.getXMLDesc());
  }

  /** one domain as a scan reports it, with its saved definition when that differs; null when the host has none */
  async scanDomain(uuid: string): Promise<DomainInfo | null> {
    let r: ReadDomain | undefined;
    try {
      r = await this.readDomain(await this.lookup(uuid), true);
    } catch (e) {
      if ((e as BillboardError).code === 'NOT_FOUND') return null;
      throw asHostError(this.name, e);
    }
    if (!r) return null; // gone between the lookup and the read
    const ips = isRunningOrPaused(r.state) ? (await this.addresses([r.uuid])).get(r.uuid) : undefined;
    return this.parsed(r, ips, true);
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
    const xml = await this.domainXml(uuid); // checks the UUID first
    if (isTestUri(this.uri)) throw isolateUnsupported(this.name, uuid, 'the libvirt test driver has no link state');
    let macs: string[];
    try {
      macs = parseDomainXml(xml, { state: 'unknown' }).macs.filter((m) => MAC_RE.test(m));
    } catch (e) {
      throw hostError('HOST_ERROR', this.name, (e as Error).message);
    }
    await this.ctl.setLinksDown(uuid, macs);
  }
}
