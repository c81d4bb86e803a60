import type { SshHostConfig } from '../../model/config.js';
import type { BillboardError } from '../../model/errors.js';
import type { EventChannel, HostDriver, HostScan, ScanOptions } from '../../model/host-driver.js';
import type { DomainInfo, NodeInfo } from '../../model/types.js';
import {
  COMMAND_TIMEOUT_MS,
  MAX_OUTPUT_BYTES,
  MIGRATE_TIMEOUT_MS,
  SESSION_RETRY_MS,
  SESSION_START_TIMEOUT_MS,
  VIRSH,
} from '../defaults.js';
import { DomainXmlError, parseDomainXml, withSavedDefinition } from '../domain-xml.js';
import { openSshEventChannel } from '../events/channel.js';
import { asHostError, hostError, isolateUnsupported, timeoutError, virshFailure } from '../errors.js';
import type { Logger } from '../logger.js';
import {
  inventoryScript,
  parseBatch,
  parseRawBatch,
  SESSION_LIST,
  sessionDomainLines,
  sessionRawDomains,
  TruncatedOutputError,
  type DomainParseCache,
  type RawDomain,
} from '../virsh/batch.js';
import {
  domainUuid,
  eventsUnavailableFor,
  isTestUri,
  MAC_RE,
  multiCommand,
  testDriverFreeMemory,
  virshCommandLine,
} from '../virsh/commands.js';
import { framingNonce, markPrefix } from '../virsh/framing.js';
import { VirshControl, type VirshRun, type VirshRunOptions } from '../virsh/control.js';
import {
  guardedMigrateScript,
  HANG_MARK,
  hangLine,
  hungMigrateError,
  migrateWatchScript,
  type GuardTarget,
} from '../virsh/migrate-guard.js';
import { SessionGoneError, sessionLine, type Segment, type VirshSession } from '../virsh/session.js';
import { parseDomIfAddr, parseDomState, parseFreecell, parseNodeInfo, parseUuidList } from '../virsh/text.js';
import { HOOKS_DIR, installHook, probeHook, type HookFile } from './admission-hook.js';
import { SshConnection } from './connection.js';
import { SessionKeeper } from './session-keeper.js';

// HostDriver over SSH: `virsh -c <libvirtUri> …` on the host through one pooled ssh2 connection.
// Scans, reads and suspend/resume/destroy go through a persistent virsh session (virsh/session.ts): one
// long-lived exec channel running `virsh -q -c URI` interactively, so a warm scan pays no sshd session, no
// process start and no libvirt connect. A session that cannot start (virsh exits, or does not answer within
// sessionStartTimeoutMs) makes the driver use one-shot execs for a while (the scan is then one exec of a
// sh script, see virsh/batch.ts); a session that hangs, dies or talks too much fails its request and is
// replaced on the next call. Job stats and migration tunings sampled during a migration use the session too;
// migrate takes over the idle session (else one exec), watched for virsh's hang (virsh/migrate-guard.ts);
// domjobabort and link state always use one-shot execs.
// Note on test:/// URIs: the test driver's state lives in the virsh process, so within a session a suspend
// is seen by the next scan (as with the libvirt driver); close() ends the session, and the next call starts
// a fresh one that reads the XML file again. One-shot execs never see each other's changes.

export interface SshDriverOptions {
  log?: Logger;
  /** per-command timeout (ms); a scan of a big host gets the same budget */
  commandTimeoutMs?: number;
  /** virsh on the remote host (default: virsh on the login shell's PATH) */
  virshPath?: string;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** migrate has its own, long timeout (ms) */
  migrateTimeoutMs?: number;
  /** use a persistent virsh session (default true); false: one-shot execs only */
  session?: boolean;
  /** how long a new session may take to answer before the driver falls back to exec (ms, default 10 s) */
  sessionStartTimeoutMs?: number;
  /** after a session failed to start, use exec for this long before trying again (ms, default 60 s; doubles up to 1 h) */
  sessionRetryMs?: number;
  /** bound on one command's or one scan's output, session or exec (bytes, default 64 MiB) */
  maxOutputBytes?: number;
  /** libvirt's hooks folder on the host (default /etc/libvirt/hooks): the admission hook's probe and install */
  hooksDir?: string;
}

/** What the driver did, for tests and status. */
export interface SshDriverStats {
  sessionStarts: number;
  sessionStartFailures: number;
  /** calls that ran as one-shot execs because no session was available */
  execFallbacks: number;
}

export class SshDriver implements HostDriver {
  readonly kind = 'ssh' as const;
  readonly name: string;
  readonly conn: SshConnection;
  private readonly uri: string;
  private readonly hooksDir: string;
  private readonly virsh: string;
  private readonly timeoutMs: number;
  private readonly migrateTimeoutMs: number;
  private readonly parsed: DomainParseCache = new Map();
  private readonly maxBytes: number;
  private readonly sessions: SessionKeeper;
  readonly stats: SshDriverStats = { sessionStarts: 0, sessionStartFailures: 0, execFallbacks: 0 };

  private readonly ctl: VirshControl;

  constructor(
    readonly host: SshHostConfig,
    opts: SshDriverOptions = {},
  ) {
    this.name = host.name;
    this.uri = host.libvirtUri;
    this.virsh = opts.virshPath ?? VIRSH;
    this.timeoutMs = opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    this.migrateTimeoutMs = opts.migrateTimeoutMs ?? MIGRATE_TIMEOUT_MS;
    this.maxBytes = opts.maxOutputBytes ?? MAX_OUTPUT_BYTES;
    this.hooksDir = opts.hooksDir ?? host.hooksDir ?? HOOKS_DIR;
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
    const sessionOpts = {
      host: this.name,
      virsh: this.virsh,
      uri: this.uri,
      maxBytes: this.maxBytes,
      enabled: opts.session ?? true,
      startTimeoutMs: opts.sessionStartTimeoutMs ?? SESSION_START_TIMEOUT_MS,
      retryMs: opts.sessionRetryMs ?? SESSION_RETRY_MS,
      log: opts.log,
    };
    this.sessions = new SessionKeeper(this.conn, sessionOpts, this.stats);
    this.ctl = new VirshControl({
      host: this.name,
      run: (args, o) => this.virshRun(args, o),
      quick: (args, o) => this.virshOne(args, o?.timeoutMs),
      migrateTimeoutMs: this.migrateTimeoutMs,
      migrateVia: (uuid) => this.takeSessionForMigrate(uuid),
    });
  }

  /** migration and job control: one-shot execs, job samples and tunings on the session, migrate as below */
  get jobs(): VirshControl {
    return this.ctl;
  }

  connect(): Promise<void> {
    return this.conn.connect();
  }

  /** Ends the session and the connection; the next call opens both again. */
  close(): Promise<void> {
    return this.sessions.close();
  }

  /** a persistent virsh session is open now */
  get sessionAlive(): boolean {
    return this.sessions.alive;
  }

  /**
   * Run through the session when there is one, else (or when it vanished before the request went out) through
   * exec. Both get what is left of one budget; a timeout names the whole budget.
   */
  private async viaSession<T>(
    what: string,
    timeoutMs: number,
    session: (s: VirshSession, deadline: number, label: number) => Promise<T>,
    exec: (leftMs: number) => Promise<T>,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    const timedOut = () => timeoutError(this.name, what, timeoutMs);
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await this.sessions.get(deadline);
      if (!s) break;
      try {
        return await session(s, deadline, timeoutMs);
      } catch (e) {
        if (!(e instanceof SessionGoneError)) throw e;
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) throw timedOut();
    this.stats.execFallbacks++;
    try {
      return await exec(left);
    } catch (e) {
      if ((e as BillboardError).code === 'TIMEOUT') throw timedOut();
      throw e;
    }
  }

  /** One session request; a timeout names the caller's whole budget. */
  private ask(s: VirshSession, lines: string[], deadline: number, label: number, what: string): Promise<Segment[]> {
    return s.request(lines, { timeoutMs: deadline - Date.now(), what, timeoutLabelMs: label });
  }

  /** One virsh command through the session (or exec); a failed command → classified host error. */
  private virshOne(args: string[], timeoutMs = this.timeoutMs): Promise<string> {
    const line = sessionLine(args);
    if (line === undefined) return this.virshRun(args, { timeoutMs });
    return this.viaSession(
      `virsh ${args[0]}`,
      timeoutMs,
      (s, deadline, label) => this.sessionCommand(s, args[0]!, line, deadline, label),
      (left) => this.virshRun(args, { timeoutMs: left }),
    );
  }

  /** One command line on a session; virsh's error → classified host error. */
  private async sessionCommand(s: VirshSession, verb: string, line: string, deadline: number, label: number): Promise<string> {
    const [seg] = await this.ask(s, [line], deadline, label, `virsh ${verb}`);
    if (seg!.error !== undefined) throw virshFailure(this.name, verb, null, seg!.error);
    return seg!.out;
  }

  /** Run one virsh command; non-zero exit → classified host error. A migrate runs beside the hang guard. */
  private async virshRun(args: string[], o: VirshRunOptions = {}): Promise<string> {
    const verb = args[0].split(' ')[0];
    const line = virshCommandLine(this.virsh, this.uri, args);
    const nonce = framingNonce();
    const command = o.guardMigrateOf === undefined ? line : guardedMigrateScript(line, this.guardTarget(o.guardMigrateOf), nonce);
    const r = await this.conn.exec(command, {
      timeoutMs: o.timeoutMs ?? this.timeoutMs,
      signal: o.signal,
      what: `virsh ${verb}`,
      maxBytes: this.maxBytes,
    });
    if (r.code !== 0 && o.guardMigrateOf !== undefined && r.stderr.includes(hangLine(nonce))) throw hungMigrateError(this.name);
    if (r.code !== 0) throw virshFailure(this.name, verb, r.code, r.stderr);
    return r.stdout;
  }

  private guardTarget(uuid: string): GuardTarget {
    return { virsh: this.virsh, uri: this.uri, uuid };
  }

  /** Inventory and node info (two requests on the session, or one exec), and beside them the admission hook's hash. */
  async scanAll(o: ScanOptions = {}): Promise<HostScan> {
    const hook = isTestUri(this.uri) && !this.host.hooksDir ? undefined : probeHook(this.conn, this.timeoutMs, `${this.hooksDir}/qemu`);
    const scan = await this.viaSession(
      'scan',
      this.timeoutMs,
      (s, deadline, label) => this.scanSession(s, deadline, label, o.savedDefinitions === true),
      (left) => this.scanExec(left), // one shell script: no saved definitions (the scanner carries what it knew)
    );
    return { ...scan, admissionHook: (await hook) ?? { state: 'unknown', detail: 'a test:/// host has no hooks' } };
  }

  private async scanSession(s: VirshSession, deadline: number, label: number, saved: boolean): Promise<HostScan> {
    const [list, inactive, node, free] = await this.ask(s, SESSION_LIST, deadline, label, 'scan');
    if (list.error !== undefined) {
      s.kill(); // the next scan starts afresh (a libvirt connection that broke under virsh, say)
      throw virshFailure(this.name, 'list', null, list.error);
    }
    const lists = { uuids: parseUuidList(list.out), inactive: new Set(parseUuidList(inactive.out)), node: node.out, free: free.out };
    const lines = sessionDomainLines(lists, saved);
    const outs = lines.length ? await this.ask(s, lines, deadline, label, 'scan') : [];
    const scan = this.parseScan({ node: lists.node, free: lists.free, domains: sessionRawDomains(lists, outs, saved) }, saved);
    return saved ? { ...scan, savedRead: true } : scan;
  }

  private parseScan(
    raw: { node: string; free: string; domains: RawDomain[] } | { stdout: string; nonce: string },
    saved = false,
  ): HostScan {
    try {
      return 'stdout' in raw ? parseBatch(raw.stdout, raw.nonce, this.parsed) : parseRawBatch(raw, this.parsed, saved);
    } catch (e) {
      if (e instanceof TruncatedOutputError || e instanceof DomainXmlError) throw hostError('HOST_ERROR', this.name, e.message);
      throw asHostError(this.name, e);
    }
  }

  /** The whole scan as one exec of a sh script (no session). */
  private async scanExec(timeoutMs: number): Promise<HostScan> {
    const nonce = framingNonce();
    const r = await this.conn.exec(inventoryScript(this.virsh, this.uri, nonce), { timeoutMs, what: 'scan', maxBytes: this.maxBytes });
    if (r.code !== 0) {
      // past the list step (markers printed) the script was cut off: say so rather than blame virsh list
      if (r.stdout.includes(markPrefix(nonce))) {
        const how = r.signal ? `killed by signal ${r.signal}` : `exited with status ${r.code ?? 'unknown'}`;
        throw hostError('HOST_ERROR', this.name, `truncated scan output (${r.stdout.length} bytes; scan command ${how})`);
      }
      throw virshFailure(this.name, 'list', r.code, r.stderr);
    }
    return this.parseScan({ stdout: r.stdout, nonce });
  }

  /** write the admission hook and its settings into the host's hooks folder (hosts install-hook) */
  installAdmissionHook(files: (hooksDir: string) => HookFile[], o: { replace: boolean }): Promise<{ replaced?: string }> {
    return installHook(this.conn, this.name, this.hooksDir, files(this.hooksDir), { replace: o.replace, timeoutMs: this.timeoutMs });
  }

  async inventory(): Promise<DomainInfo[]> {
    return (await this.scanAll()).domains;
  }

  async nodeInfo(): Promise<NodeInfo> {
    const out = await this.virshOne(['nodeinfo']);
    let free = 0;
    try {
      free = parseFreecell(await this.virshOne(['freecell', '--all'])) ?? 0;
    } catch {
      /* some drivers cannot tell free memory: report 0 */
    }
    try {
      return testDriverFreeMemory(parseNodeInfo(out, free), this.uri);
    } catch (e) {
      throw hostError('HOST_ERROR', this.name, `cannot parse nodeinfo: ${(e as Error).message}`);
    }
  }

  async domainXml(uuid: string): Promise<string> {
    return this.virshOne(['dumpxml', domainUuid(this.name, uuid)]);
  }

  /** One domain, parsed (state + XML + addresses + saved definition in one request or one exec). */
  async domain(uuid: string): Promise<DomainInfo> {
    const u = domainUuid(this.name, uuid);
    const [state, xml, ifaddr, saved] = await this.viaSession(
      'virsh domstate',
      this.timeoutMs,
      async (s, deadline, label) => {
        const lines = [`domstate ${u}`, `dumpxml ${u}`, `domifaddr ${u}`, `dumpxml --inactive ${u}`];
        const [st, x, ifa, inx] = await this.ask(s, lines, deadline, label, 'virsh domstate');
        if (st.error !== undefined) throw virshFailure(this.name, 'domstate', null, st.error);
        if (x.error !== undefined) throw virshFailure(this.name, 'dumpxml', null, x.error);
        // no addresses (an inactive domain) is not an error, nor is no saved definition (a transient one)
        return [st.out, x.out, ifa.out, inx?.error === undefined ? inx?.out : undefined];
      },
      async (left) => {
        const sep = `${markPrefix(framingNonce())}sep`; // a fresh nonce: the XML between cannot hold it
        const out = await this.virshRun(
          [
            multiCommand([
              ['domstate', u],
              ['echo', sep],
              ['dumpxml', u],
              ['echo', sep],
              ['domifaddr', u],
              ['echo', sep],
              ['dumpxml', '--inactive', u],
              ['echo', sep],
            ]),
          ],
          { timeoutMs: left },
        );
        const [st = '', x = '', ifa = '', inx = ''] = out.split(sep).map((p) => p.replace(/^\n/, ''));
        return [st, x, ifa, inx];
      },
    );
    try {
      return withSavedDefinition(parseDomainXml(xml.trim(), { state: parseDomState(state), ips: parseDomIfAddr(ifaddr) }), saved);
    } catch (e) {
      throw hostError('HOST_ERROR', this.name, (e as Error).message);
    }
  }

  /** one domain as a scan reports it (an event's targeted rescan); null when the host has none with that UUID */
  async scanDomain(uuid: string): Promise<DomainInfo | null> {
    try {
      return await this.domain(uuid);
    } catch (e) {
      if ((e as BillboardError).code === 'NOT_FOUND') return null;
      throw e;
    }
  }

  /** the host's domain events: one more long-lived channel on this connection (events/channel.ts) */
  openEvents(): Promise<EventChannel> {
    return openSshEventChannel(this.conn, this.virsh, this.uri);
  }

  /** the test driver's events stay inside the virsh process that made them: another virsh never sees them */
  get eventsUnavailable(): string | undefined {
    return eventsUnavailableFor(this.uri);
  }

  async stop(uuid: string): Promise<void> {
    await this.virshOne(['destroy', domainUuid(this.name, uuid)]);
  }

  async suspend(uuid: string): Promise<void> {
    await this.virshOne(['suspend', domainUuid(this.name, uuid)]);
  }

  async resume(uuid: string): Promise<void> {
    await this.virshOne(['resume', domainUuid(this.name, uuid)]);
  }

  async isolate(uuid: string): Promise<void> {
    const u = domainUuid(this.name, uuid);
    if (isTestUri(this.uri)) throw isolateUnsupported(this.name, u, 'the libvirt test driver has no link state');
    const info = await this.domain(u);
    const macs = info.macs.filter((m) => MAC_RE.test(m));
    await this.ctl.setLinksDown(u, macs);
  }

  /**
   * The migrate command runs in the host's warm virsh session when it is idle: the session is handed over to
   * the migration (it is busy until libvirt finishes) and the next command starts a new one. A migration then
   * starts without an sshd session, a login shell and a virsh start on its critical path. Otherwise (undefined):
   * one exec.
   */
  private takeSessionForMigrate(uuid: string): VirshRun | undefined {
    const s = this.sessions.takeIdle();
    if (!s) return undefined;
    return async (args: string[], o: VirshRunOptions = {}): Promise<string> => {
      const line = sessionLine(args);
      if (line === undefined) return this.virshRun(args, o);
      const timeoutMs = o.timeoutMs ?? this.migrateTimeoutMs;
      const stopGuard = this.guardSession(s, uuid);
      try {
        return await this.sessionCommand(s, 'migrate', line, Date.now() + timeoutMs, timeoutMs);
      } catch (e) {
        if (e instanceof SessionGoneError) return this.virshRun(args, o); // it ended before the command went out
        throw e;
      } finally {
        stopGuard();
        s.close();
      }
    };
  }

  /**
   * Watch a session's virsh while it runs a migrate (one exec beside it, see virsh/migrate-guard.ts); a hung virsh is
   * killed and the migrate fails with why. Without the session's pid there is nothing to watch.
   */
  private guardSession(s: VirshSession, uuid: string): () => void {
    if (s.pid === undefined) return () => undefined;
    const stop = new AbortController();
    this.conn
      .exec(migrateWatchScript(String(s.pid), this.guardTarget(uuid)), {
        timeoutMs: this.migrateTimeoutMs,
        signal: stop.signal,
        what: 'migrate watch',
      })
      .then((r) => {
        if (r.stdout.includes(HANG_MARK)) s.kill(true, hungMigrateError(this.name));
      })
      .catch(() => undefined); // stopped, or the connection went: the migrate's own request reports that
    return () => stop.abort();
  }
}
