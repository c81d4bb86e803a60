import { readFile } from 'node:fs/promises';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { BillboardError } from '../../model/errors.js';
import {
  SSH_CONNECT_TIMEOUT_MS,
  SSH_KEEPALIVE_COUNT_MAX,
  SSH_KEEPALIVE_INTERVAL_MS,
  SSH_MAX_CHANNELS,
  SSH_MAX_QUEUED,
} from '../defaults.js';
import { asHostError, hostError } from '../errors.js';
import type { Logger } from '../logger.js';
import { SharedStart } from '../shared-start.js';
import { execOnChannel, type ExecHost, type ExecOptions, type ExecResult } from './exec-run.js';
import { readKeyFile } from './key-file.js';
import { checkHostKey, knownKeyTypes, parseKnownHosts, type HostKeyVerdict } from './known-hosts.js';

// One pooled ssh2 connection to one host: opened lazily, kept alive, reopened on the next command after
// it drops. Commands run on exec channels (exec-run.ts), at most `maxChannels` at once.

export type { ExecOptions, ExecResult };

export interface SshTarget {
  /** host name in the config, used in every error message */
  name: string;
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  knownHostsFile: string;
}

export interface SshConnectionOptions {
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  maxChannels?: number;
  log?: Logger;
}

/** the host key verdict of one connection attempt (a refused key explains the handshake's error) */
interface HostKeyCheck {
  verdict?: HostKeyVerdict;
}

export class SshConnection {
  private client?: Client;
  private readonly connecting = new SharedStart<Client>();
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly live = new Set<(e: BillboardError) => void>();
  private readonly opts: Required<Omit<SshConnectionOptions, 'log'>> & { log?: Logger };
  /** what a command on an exec channel needs from this connection */
  private readonly execHost: ExecHost;

  constructor(
    readonly target: SshTarget,
    opts: SshConnectionOptions = {},
  ) {
    this.opts = {
      connectTimeoutMs: opts.connectTimeoutMs ?? SSH_CONNECT_TIMEOUT_MS,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? SSH_KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: opts.keepaliveCountMax ?? SSH_KEEPALIVE_COUNT_MAX,
      maxChannels: opts.maxChannels ?? SSH_MAX_CHANNELS,
      log: opts.log,
    };
    this.execHost = {
      name: target.name,
      killGroup: (pid) => this.killGroup(pid),
      isCurrent: (client) => this.client === client,
      onDrop: (fail) => {
        this.live.add(fail);
        return () => this.live.delete(fail);
      },
    };
  }

  /** Open the connection now (commands also open it on demand). */
  async connect(): Promise<void> {
    await this.ensure();
  }

  private ensure(): Promise<Client> {
    return this.client ? Promise.resolve(this.client) : this.connecting.join(() => this.open());
  }

  private async open(): Promise<Client> {
    const check: HostKeyCheck = {};
    return this.handshake(await this.connectConfig(check), check);
  }

  /** ssh2's settings for the target: strict host key checking against known_hosts, then the key file or the agent. */
  private async connectConfig(check: HostKeyCheck): Promise<ConnectConfig> {
    const t = this.target;
    let knownText: string;
    try {
      knownText = await readFile(t.knownHostsFile, 'utf8');
    } catch (e) {
      throw hostError('HOST_ERROR', t.name, `cannot read known_hosts file ${t.knownHostsFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    const known = parseKnownHosts(knownText);
    const cfg: ConnectConfig = {
      host: t.address,
      port: t.port,
      username: t.user,
      readyTimeout: this.opts.connectTimeoutMs,
      keepaliveInterval: this.opts.keepaliveIntervalMs,
      keepaliveCountMax: this.opts.keepaliveCountMax,
      tryKeyboard: false,
    };
    if (t.identityFile) {
      try {
        cfg.privateKey = await readKeyFile(t.identityFile); // refused like OpenSSH refuses it (key-file.ts)
      } catch (e) {
        throw hostError('HOST_ERROR', t.name, (e as Error).message);
      }
    } else if (process.env.SSH_AUTH_SOCK) {
      cfg.agent = process.env.SSH_AUTH_SOCK;
    } else {
      throw hostError(
        'HOST_ERROR',
        t.name,
        'no identityFile configured and no ssh-agent (SSH_AUTH_SOCK unset); passwords are not supported',
      );
    }
    const preferred = knownKeyTypes(known, t.address, t.port);
    if (preferred.length) cfg.algorithms = { serverHostKey: { prepend: preferred } as never };
    cfg.hostVerifier = (key: Buffer) => {
      const verdict = checkHostKey(known, t.address, t.port, key, t.knownHostsFile);
      check.verdict = verdict;
      return verdict.ok;
    };
    return cfg;
  }

  /** Connect with `cfg`; the client is kept once ready, and dropped when it errs or closes after that. */
  private handshake(cfg: ConnectConfig, check: HostKeyCheck): Promise<Client> {
    const t = this.target;
    const where = `${t.user}@${t.address}:${t.port}`;
    const client = new Client();
    return new Promise<Client>((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        ready = true;
        // each virsh request is a small write that waits for its answer: Nagle would hold it for the peer's delayed ACK
        client.setNoDelay(true);
        this.client = client;
        this.opts.log?.debug?.({ host: t.name, where }, 'ssh connected');
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        const e = this.mapError(err, check.verdict, where);
        if (!ready) {
          reject(e);
          client.end();
        } else {
          this.opts.log?.warn?.({ host: t.name, err: e.message }, 'ssh connection error');
          this.dropped(client, e);
        }
      });
      client.on('close', () => {
        if (!ready) reject(hostError('HOST_DOWN', t.name, `connection to ${where} closed during handshake`));
        else this.dropped(client, hostError('HOST_DOWN', t.name, `connection to ${where} lost`));
      });
      try {
        client.connect(cfg);
      } catch (e) {
        reject(asHostError(t.name, e));
      }
    });
  }

  private mapError(err: Error & { level?: string; code?: string }, verdict: HostKeyVerdict | undefined, where: string): BillboardError {
    const name = this.target.name;
    if (verdict && !verdict.ok) {
      return hostError('HOST_ERROR', name, verdict.message, { hostKey: verdict.reason, fingerprint: verdict.fingerprint });
    }
    const code = err.code ?? '';
    if (code === 'ECONNREFUSED') return hostError('HOST_DOWN', name, `connection refused by ${where}`);
    if (code === 'ECONNRESET' || code === 'EPIPE') return hostError('HOST_DOWN', name, `connection to ${where} reset`);
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      return hostError('HOST_DOWN', name, `cannot reach ${where} (${code})`);
    }
    if (code === 'ETIMEDOUT' || /timed out/i.test(err.message)) {
      return hostError('TIMEOUT', name, `timed out connecting to ${where}`);
    }
    if (err.level === 'client-authentication') {
      const how = this.target.identityFile ? `identity file ${this.target.identityFile}` : 'ssh-agent keys';
      return hostError('HOST_ERROR', name, `authentication failed for ${where} with ${how}`);
    }
    if (/keepalive/i.test(err.message)) return hostError('HOST_DOWN', name, `${where} stopped answering keepalives`);
    return hostError('HOST_DOWN', name, `ssh ${where}: ${err.message}`);
  }

  /** The connection died: fail every running command, forget the client so the next command reconnects. */
  private dropped(client: Client, e: BillboardError): void {
    if (this.client === client) this.client = undefined;
    for (const fail of [...this.live]) fail(e);
    try {
      client.end();
    } catch {
      /* already gone */
    }
  }

  private async slot(): Promise<void> {
    if (this.active < this.opts.maxChannels) {
      this.active++;
      return;
    }
    if (this.waiters.length >= SSH_MAX_QUEUED) throw hostError('HOST_ERROR', this.target.name, 'too many queued commands');
    await new Promise<void>((r) => this.waiters.push(r));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  /** Run one command on an exec channel. Rejects with a host error; never hangs past timeoutMs. */
  async exec(command: string, o: ExecOptions): Promise<ExecResult> {
    if (o.signal?.aborted) throw hostError('HOST_ERROR', this.target.name, `${o.what ?? 'command'} aborted`);
    await this.slot();
    try {
      const client = await this.ensure();
      return await execOnChannel(this.execHost, client, command, o);
    } finally {
      this.release();
    }
  }

  /**
   * Open a long-lived exec channel (a persistent session: stdin stays open for commands). It is not counted
   * against maxChannels: the owner keeps at most one per connection, and sshd's MaxSessions leaves room.
   * onDrop runs when the connection dies under it; the returned release() unregisters it.
   */
  async openChannel(
    command: string,
    onDrop: (e: BillboardError) => void,
    what = 'session',
  ): Promise<{ channel: ClientChannel; connectionLost(): boolean; release(): void }> {
    const name = this.target.name;
    const client = await this.ensure();
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      try {
        client.exec(command, (e, ch) =>
          e ? reject(hostError('HOST_ERROR', name, `cannot open a channel for ${what}: ${e.message}`)) : resolve(ch),
        );
      } catch (e) {
        reject(asHostError(name, e, 'HOST_DOWN'));
      }
    });
    this.live.add(onDrop);
    return { channel, connectionLost: () => this.client !== client, release: () => this.live.delete(onDrop) };
  }

  /**
   * KILL a remote process group (a command's or session's login shell leads one: sshd makes it a session
   * leader), or the one process where it leads none. Never rejects.
   */
  killGroup(pid: number): Promise<void> {
    return this.exec(`kill -s KILL -- -${pid} 2>/dev/null || kill -s KILL ${pid} 2>/dev/null; true`, {
      timeoutMs: 5000,
      what: 'kill',
    }).then(
      () => undefined,
      () => undefined,
    );
  }

  async close(): Promise<void> {
    const c = this.client ?? (await this.connecting.current?.catch(() => undefined));
    this.client = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        c.destroy();
        resolve();
      }, 2000);
      c.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      for (const fail of [...this.live]) fail(hostError('HOST_DOWN', this.target.name, 'connection closed'));
      c.end();
    });
  }
}
