import type { Client, ClientChannel } from 'ssh2';
import type { BillboardError } from '../../model/errors.js';
import { MAX_OUTPUT_BYTES } from '../defaults.js';
import { asHostError, hostError, timeoutError } from '../errors.js';
import { pidLine } from './remote-pid.js';

// One command on one exec channel of a pooled connection (connection.ts): its output, its exit status, and the
// one way it ends (exit, timeout, abort, a dropped connection, too much output).

export interface ExecOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** stdout beyond this is an error (a host cannot fill our memory) */
  maxBytes?: number;
  /** what the command is, for error messages */
  what?: string;
  /** written to the command's stdin, which is then closed (secrets go here, never into the command line) */
  input?: string;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal?: string;
}

/** What a run needs from the connection it runs on. */
export interface ExecHost {
  /** host name for error messages */
  name: string;
  /** KILL a remote process group by a command of its own; never rejects */
  killGroup(pid: number): Promise<void>;
  /** the connection `client` is still the current one (else the command was cut off by its loss) */
  isCurrent(client: Client): boolean;
  /** register a callback for the connection's death; returns its unregistration */
  onDrop(fail: (e: BillboardError) => void): () => void;
}

/** the tail of stderr kept (virsh's error is at its end) */
const STDERR_KEEP = 64 * 1024;

/** Run `command` on a new exec channel of `client`. Rejects with a host error; never hangs past its timeoutMs. */
export function execOnChannel(host: ExecHost, client: Client, command: string, o: ExecOptions): Promise<ExecResult> {
  return new Promise<ExecResult>((resolve, reject) => new ExecRun(host, client, o, resolve, reject).start(command));
}

class ExecRun {
  private readonly what: string;
  private readonly maxBytes: number;
  private channel?: ClientChannel;
  private done = false;
  private readonly out: Buffer[] = [];
  private outLen = 0;
  private err = Buffer.alloc(0);
  private code: number | null = null;
  private sig?: string;
  /** the command's login shell announces its pid (it leads the command's process group) on stderr first */
  private readonly announce = pidLine();
  private pid?: number;
  private head = '';
  private readonly timer: NodeJS.Timeout;
  private readonly unregister: () => void;
  private readonly onAbort = () => this.aborted();

  constructor(
    private readonly host: ExecHost,
    private readonly client: Client,
    private readonly opts: ExecOptions,
    private readonly resolve: (r: ExecResult) => void,
    private readonly reject: (e: BillboardError) => void,
  ) {
    this.what = opts.what ?? 'command';
    this.maxBytes = opts.maxBytes ?? MAX_OUTPUT_BYTES;
    this.timer = setTimeout(() => this.finish(timeoutError(host.name, this.what, opts.timeoutMs), true), opts.timeoutMs);
    opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.unregister = host.onDrop((e) =>
      this.finish(hostError('HOST_DOWN', host.name, `${this.what} interrupted: ${e.message.replace(`${host.name}: `, '')}`)),
    );
  }

  start(command: string): void {
    try {
      this.client.exec(`${this.announce.echo} >&2; ${command}`, (e, ch) => {
        if (e) return this.finish(hostError('HOST_ERROR', this.host.name, `cannot open a channel for ${this.what}: ${e.message}`));
        if (this.done) return void ch.close();
        this.channel = ch;
        this.attach(ch);
      });
    } catch (e) {
      this.finish(asHostError(this.host.name, e, 'HOST_DOWN'));
    }
  }

  private attach(ch: ClientChannel): void {
    if (this.opts.input !== undefined) ch.end(this.opts.input);
    ch.on('data', (d: Buffer) => {
      this.outLen += d.length;
      if (this.outLen > this.maxBytes)
        return this.finish(hostError('HOST_ERROR', this.host.name, `${this.what} output exceeded ${this.maxBytes} bytes`), true);
      this.out.push(d);
    });
    ch.stderr.on('data', (d: Buffer) => {
      if (this.pid === undefined && this.head.length < this.announce.window) {
        this.head += d.toString('latin1');
        this.pid = this.announce.find(this.head);
      }
      this.err = Buffer.concat([this.err, d]);
      if (this.err.length > STDERR_KEEP) this.err = this.err.subarray(this.err.length - STDERR_KEEP);
    });
    ch.on('exit', (c: number | null, s?: string) => {
      this.code = c ?? null;
      this.sig = s;
    });
    ch.on('close', () => {
      if (this.code !== null || this.sig !== undefined) return this.finish();
      const code = this.host.isCurrent(this.client) ? 'HOST_ERROR' : 'HOST_DOWN';
      this.finish(hostError(code, this.host.name, `${this.what} ended without an exit status (connection lost?)`));
    });
  }

  private aborted(): void {
    try {
      this.channel?.signal('INT'); // virsh migrate aborts the job on SIGINT
    } catch {
      /* ignore */
    }
    this.finish(hostError('HOST_ERROR', this.host.name, `${this.what} aborted`));
  }

  /** Settle once: with the result, or with `e` after stopping the command (`killGroup`: by its process group too). */
  private finish(e?: BillboardError, killGroup = false): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    this.unregister();
    if (!e) {
      const stderr = this.err.toString('utf8');
      const clean = this.pid === undefined ? stderr : this.announce.strip(stderr);
      return this.resolve({ stdout: Buffer.concat(this.out).toString('utf8'), stderr: clean, code: this.code, signal: this.sig });
    }
    const ch = this.channel;
    try {
      ch?.signal('KILL');
    } catch {
      /* sshd may not support signals */
    }
    // sshd refuses signals for root logins: kill the group by a command of its own, then close (the open
    // channel keeps the pid the command's until then)
    if (killGroup && this.pid !== undefined) void this.host.killGroup(this.pid).finally(() => ch?.close());
    else ch?.close();
    this.reject(e);
  }
}
