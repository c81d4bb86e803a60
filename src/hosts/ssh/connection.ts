import { readFile } from 'node:fs/promises';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import type { BillboardError } from '../../model/errors.js';
import { asHostError, hostError, timeoutError } from '../errors.js';
import { checkHostKey, knownKeyTypes, parseKnownHosts, type HostKeyVerdict } from './known-hosts.js';
import { readKeyFile } from './key-file.js';
import type { Logger } from '../logger.js';
import { PID_SEARCH, pidLine } from './remote-pid.js';

// One pooled ssh2 connection to one host: opened lazily, kept alive, reopened on the next command after
// it drops. Commands run on exec channels, at most `maxChannels` at once (sshd's MaxSessions is 10).

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

export interface ExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** stdout beyond this is an error (a host cannot fill our memory) */
  maxBytes?: number;
  /** what the command is, for error messages */
  what?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal?: string;
}

const STDERR_KEEP = 64 * 1024;
const MAX_QUEUED = 1024;

export class SshConnection {
  private client?: Client;
  private connecting?: Promise<Client>;
  private active = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly live = new Set<(e: BillboardError) => void>();
  private readonly o: Required<Omit<SshConnectionOptions, 'log'>> & { log?: Logger };
  /** the verdict of the last host key check (also for tests and status) */
  lastHostKey?: HostKeyVerdict;

  constructor(
    readonly target: SshTarget,
    opts: SshConnectionOptions = {},
  ) {
    this.o = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 10_000,
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
      maxChannels: opts.maxChannels ?? 8,
      log: opts.log,
    };
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Open the connection now (commands also open it on demand). */
  async connect(): Promise<void> {
    await this.ensure();
  }

  private ensure(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.open().finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const t = this.target;
    const where = `${t.user}@${t.address}:${t.port}`;
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
      readyTimeout: this.o.connectTimeoutMs,
      keepaliveInterval: this.o.keepaliveIntervalMs,
      keepaliveCountMax: this.o.keepaliveCountMax,
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
      throw hostError('HOST_ERROR', t.name, 'no identityFile configured and no ssh-agent (SSH_AUTH_SOCK unset); passwords are not supported');
    }
    const preferred = knownKeyTypes(known, t.address, t.port);
    if (preferred.length) cfg.algorithms = { serverHostKey: { prepend: preferred } as never };
    let verdict: HostKeyVerdict | undefined;
    cfg.hostVerifier = (key: Buffer) => {
      verdict = checkHostKey(known, t.address, t.port, key, t.knownHostsFile);
      this.lastHostKey = verdict;
      return verdict.ok;
    };

    const client = new Client();
    return await new Promise<Client>((resolve, reject) => {
      let ready = false;
      client.on('ready', () => {
        ready = true;
        this.client = client;
        this.o.log?.debug?.({ host: t.name, where }, 'ssh connected');
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        const e = this.mapError(err, verdict, where);
        if (!ready) {
          reject(e);
          client.end();
        } else {
          this.o.log?.warn?.({ host: t.name, err: e.message }, 'ssh connection error');
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
    if (this.active < this.o.maxChannels) {
      this.active++;
      return;
    }
    if (this.waiters.length >= MAX_QUEUED) throw hostError('HOST_ERROR', this.target.name, 'too many queued commands');
    await new Promise<void>((r) => this.waiters.push(r));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  /** Run one command on an exec channel. Rejects with a host error; never hangs past timeoutMs. */
  async exec(command: string, o: ExecOptions): Promise<ExecResult> {
    const name = this.target.name;
    const what = o.what ?? 'command';
    if (o.signal?.aborted) throw hostError('HOST_ERROR', name, `${what} aborted`);
    await this.slot();
    try {
      const client = await this.ensure();
      return await this.run(client, command, o, what);
    } finally {
      this.release();
    }
  }

  private run(client: Client, command: string, o: ExecOptions, what: string): Promise<ExecResult> {
    const name = this.target.name;
    const maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    return new Promise<ExecResult>((resolve, reject) => {
      let stream: ClientChannel | undefined;
      let done = false;
      const out: Buffer[] = [];
      let outLen = 0;
      let err = Buffer.alloc(0);
      let code: number | null = null;
      let sig: string | undefined;

      // the command's login shell announces its pid (it leads the command's process group) on stderr first
      const announce = pidLine();
      let pid: number | undefined;
      let head = '';
      const finish = (e?: BillboardError, killGroup = false) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        this.live.delete(onDrop);
        if (e) {
          try {
            stream?.signal('KILL');
          } catch {
            /* sshd may not support signals */
          }
          const ch = stream;
          // sshd refuses signals for root logins: kill the group by a command of its own, then close (the open
          // channel keeps the pid the command's until then)
          if (killGroup && pid !== undefined) void this.killGroup(pid).finally(() => ch?.close());
          else ch?.close();
          reject(e);
        } else {
          const stderr = pid === undefined ? err.toString('utf8') : announce.strip(err.toString('utf8'));
          resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr, code, signal: sig });
        }
      };
      const timer = setTimeout(() => finish(timeoutError(name, what, o.timeoutMs), true), o.timeoutMs);
      const onAbort = () => {
        try {
          stream?.signal('INT'); // virsh migrate aborts the job on SIGINT
        } catch {
          /* ignore */
        }
        finish(hostError('HOST_ERROR', name, `${what} aborted`));
      };
      const onDrop = (e: BillboardError) => finish(hostError('HOST_DOWN', name, `${what} interrupted: ${e.message.replace(`${name}: `, '')}`));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      this.live.add(onDrop);

      try {
        client.exec(`${announce.echo} >&2; ${command}`, (e, ch) => {
          if (e) return finish(hostError('HOST_ERROR', name, `cannot open a channel for ${what}: ${e.message}`));
          if (done) {
            ch.close();
            return;
          }
          stream = ch;
          ch.on('data', (d: Buffer) => {
            outLen += d.length;
            if (outLen > maxBytes) return finish(hostError('HOST_ERROR', name, `${what} output exceeded ${maxBytes} bytes`), true);
            out.push(d);
          });
          ch.stderr.on('data', (d: Buffer) => {
            if (pid === undefined && head.length < PID_SEARCH) {
              head += d.toString('latin1');
              pid = announce.find(head);
            }
            err = Buffer.concat([err, d]);
            if (err.length > STDERR_KEEP) err = err.subarray(err.length - STDERR_KEEP);
          });
          ch.on('exit', (c: number | null, s?: string) => {
            code = c ?? null;
            sig = s;
          });
          ch.on('close', () => {
            if (code === null && sig === undefined) {
              finish(hostError(this.client === client ? 'HOST_ERROR' : 'HOST_DOWN', name, `${what} ended without an exit status (connection lost?)`));
            } else finish();
          });
        });
      } catch (e) {
        finish(asHostError(name, e, 'HOST_DOWN'));
      }
    });
  }

  /**
   * Open a long-lived exec channel (a persistent session: stdin stays open for commands). It is not counted
   * against maxChannels: the owner keeps at most one per connection, and sshd's MaxSessions leaves room.
   * onDrop runs when the connection dies under it; the returned release() unregisters it.
   */
  async openChannel(command: string, onDrop: (e: BillboardError) => void, what = 'session'): Promise<{ channel: ClientChannel; connectionLost(): boolean; release(): void }> {
    const name = this.target.name;
    const client = await this.ensure();
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      try {
        client.exec(command, (e, ch) => (e ? reject(hostError('HOST_ERROR', name, `cannot open a channel for ${what}: ${e.message}`)) : resolve(ch)));
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
    return this.exec(`kill -s KILL -- -${pid} 2>/dev/null || kill -s KILL ${pid} 2>/dev/null; true`, { timeoutMs: 5000, what: 'kill' }).then(
      () => undefined,
      () => undefined,
    );
  }

  async close(): Promise<void> {
    const c = this.client ?? (this.connecting ? await this.connecting.catch(() => undefined) : undefined);
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
