import type { SshHostConfig } from '../model/config.js';
import type { HostDriver } from '../model/host-driver.js';
import type { DomainInfo, JobStats, MigrateOptions, NodeInfo } from '../model/types.js';
import { DomainXmlError, parseDomainXml } from './domain-xml.js';
import { asHostError, hostError, isolateUnsupported, virshFailure } from './errors.js';
import { inventoryScript, MARK, parseBatch, TruncatedOutputError, type DomainParseCache, type ParsedBatch } from './inventory-batch.js';
import type { Logger } from './logger.js';
import { SshConnection } from './ssh-connection.js';
import { VirshControl } from './virsh-control.js';
import {
  isTestUri,
  MAC_RE,
  multiCommand,
  shQuote,
  UUID_RE,
} from './virsh-commands.js';
import { parseDomIfAddr, parseDomState, parseFreecell, parseNodeInfo } from './virsh-text.js';

// HostDriver over SSH: `virsh -c <libvirtUri> …` on the host through one pooled ssh2 connection.
// A scan is one exec (see inventory-batch). Note on test:/// URIs: every exec is a new virsh process,
// so the libvirt test driver's in-memory state (suspend, destroy) does not survive between commands;
// a later scan reads the XML file afresh. Use the libvirt driver to watch test-driver state change.

export interface SshDriverOptions {
  log?: Logger;
  /** per-command timeout (ms); a scan of a big host gets the same budget */
  commandTimeoutMs?: number;
  /** virsh on the remote host (tests point it at a fake) */
  virshPath?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** migrate has its own, long timeout (ms) */
  migrateTimeoutMs?: number;
}

export class SshDriver implements HostDriver {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly conn: SshConnection;
  private readonly uri: string;
  private readonly virsh: string;
  private readonly timeoutMs: number;
  private readonly migrateTimeoutMs: number;
  private readonly parsed: DomainParseCache = new Map();

  private readonly ctl: VirshControl;

  constructor(
    readonly host: SshHostConfig,
    opts: SshDriverOptions = {},
  ) {
    this.name = host.name;
    this.uri = host.libvirtUri;
    this.virsh = opts.virshPath ?? 'virsh';
    this.timeoutMs = opts.commandTimeoutMs ?? 30_000;
    this.migrateTimeoutMs = opts.migrateTimeoutMs ?? 6 * 3600_000;
    this.conn = new SshConnection(
      {
        name: host.name,
        address: host.address,
        port: host.port,
        user: host.user,
        identityFile: host.identityFile,
        knownHostsFile: host.knownHostsFile,
      },
      { log: opts.log, connectTimeoutMs: opts.connectTimeoutMs, keepaliveIntervalMs: opts.keepaliveIntervalMs },
    );
    this.ctl = new VirshControl(this.name, (args, o) => this.virshRun(args, o), this.migrateTimeoutMs);
  }

  connect(): Promise<void> {
    return this.conn.connect();
  }

  close(): Promise<void> {
    return this.conn.close();
  }

  private cmd(args: string[]): string {
    return `LC_ALL=C ${shQuote(this.virsh)} -q -c ${shQuote(this.uri)} ${args.map(shQuote).join(' ')}`;
  }

  /** Run one virsh command; non-zero exit → classified host error. */
  private async virshRun(args: string[], o: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<string> {
    const verb = args[0].split(' ')[0];
    const r = await this.conn.exec(this.cmd(args), { timeoutMs: o.timeoutMs ?? this.timeoutMs, signal: o.signal, what: `virsh ${verb}` });
    if (r.code !== 0) throw virshFailure(this.name, verb, r.code, r.stderr);
    return r.stdout;
  }

  private checkUuid(uuid: string): string {
    if (!UUID_RE.test(uuid)) throw hostError('NOT_FOUND', this.name, `not a domain UUID: ${JSON.stringify(uuid).slice(0, 60)}`);
    return uuid.toLowerCase();
  }

  /** Inventory and node info in one round trip. */
  async scanAll(): Promise<ParsedBatch> {
    const r = await this.conn.exec(inventoryScript(this.virsh, this.uri), { timeoutMs: this.timeoutMs, what: 'scan' });
    if (r.code !== 0) {
      // past the list step (markers printed) the script was cut off: say so rather than blame virsh list
      if (r.stdout.includes(MARK)) {
        const how = r.signal ? `killed by signal ${r.signal}` : `exited with status ${r.code ?? 'unknown'}`;
        throw hostError('HOST_ERROR', this.name, `truncated scan output (${r.stdout.length} bytes; scan command ${how})`);
      }
      throw virshFailure(this.name, 'list', r.code, r.stderr);
    }
    try {
      return parseBatch(r.stdout, this.parsed);
    } catch (e) {
      if (e instanceof TruncatedOutputError || e instanceof DomainXmlError) throw hostError('HOST_ERROR', this.name, e.message);
      throw asHostError(this.name, e);
    }
  }

  async inventory(): Promise<DomainInfo[]> {
    return (await this.scanAll()).domains;
  }

  async nodeInfo(): Promise<NodeInfo> {
    const out = await this.virshRun(['nodeinfo']);
    let free = 0;
    try {
      free = parseFreecell(await this.virshRun(['freecell', '--all'])) ?? 0;
    } catch {
      /* some drivers cannot tell free memory: report 0 */
    }
    try {
      return parseNodeInfo(out, free);
    } catch (e) {
      throw hostError('HOST_ERROR', this.name, `cannot parse nodeinfo: ${(e as Error).message}`);
    }
  }

  async domainXml(uuid: string): Promise<string> {
    return this.virshRun(['dumpxml', this.checkUuid(uuid)]);
  }

  /** One domain, parsed (state + XML + addresses in one exec). */
  async domain(uuid: string): Promise<DomainInfo> {
    const u = this.checkUuid(uuid);
    const sep = '@@BB:sep';
    const out = await this.virshRun([multiCommand([['domstate', u], ['echo', sep], ['dumpxml', u], ['echo', sep], ['domifaddr', u], ['echo', sep]])]);
    const [state = '', xml = '', ifaddr = ''] = out.split(sep).map((p) => p.replace(/^\n/, ''));
    try {
      return parseDomainXml(xml.trim(), { state: parseDomState(state), ips: parseDomIfAddr(ifaddr) });
    } catch (e) {
      throw hostError('HOST_ERROR', this.name, (e as Error).message);
    }
  }

  async stop(uuid: string): Promise<void> {
    await this.virshRun(['destroy', this.checkUuid(uuid)]);
  }

  async suspend(uuid: string): Promise<void> {
    await this.virshRun(['suspend', this.checkUuid(uuid)]);
  }

  async resume(uuid: string): Promise<void> {
    await this.virshRun(['resume', this.checkUuid(uuid)]);
  }

  async isolate(uuid: string): Promise<void> {
    const u = this.checkUuid(uuid);
    if (isTestUri(this.uri)) throw isolateUnsupported(this.name, u, 'the libvirt test driver has no link state');
    const info = await this.domain(u);
    const macs = info.macs.filter((m) => MAC_RE.test(m));
    await this.ctl.setLinksDown(u, macs);
  }

  migrate(uuid: string, opts: MigrateOptions, signal?: AbortSignal): Promise<void> {
    return this.ctl.migrate(this.checkUuid(uuid), opts, signal);
  }

  jobStats(uuid: string): Promise<JobStats | null> {
    return this.ctl.jobStats(this.checkUuid(uuid));
  }

  completedJobStats(uuid: string): Promise<JobStats | null> {
    return this.ctl.jobStats(this.checkUuid(uuid), true);
  }

  abortJob(uuid: string): Promise<void> {
    return this.ctl.abortJob(this.checkUuid(uuid));
  }

  setMaxDowntime(uuid: string, ms: number): Promise<void> {
    return this.ctl.setMaxDowntime(this.checkUuid(uuid), ms);
  }

  setBandwidth(uuid: string, mibs: number): Promise<void> {
    return this.ctl.setBandwidth(this.checkUuid(uuid), mibs);
  }
}
