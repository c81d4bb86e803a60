import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { BillboardError } from '../../model/errors.js';
import { hostError, timeoutError } from '../errors.js';

// A persistent `virsh -q -c URI` in its interactive mode: commands on stdin, output (stderr merged into stdout)
// on one stream. A warm request pays no process start, no libvirt connect and no sshd session.
//
// Framing: after every command we send `echo @@BB''<nonce>:<i>@@`; virsh prints `@@BB<nonce>:<i>@@` (the
// quotes vanish), so the readline echo of our own input never matches, and the nonce (random per request)
// cannot be forged by what a command prints (a domain's XML). Between two markers sits one command's output,
// wrapped in the prompt and, with readline, the echo of the command line: both are learned at the handshake
// and stripped. An output whose first line is `error: …` is that command's failure.
//
// Every request ends with a no-op line (`echo` without arguments prints nothing): virsh's echo prints no
// newline, so the readline echo of that line is what ends the last marker's line (a line-buffered filter
// between virsh and us would otherwise hold the marker back until the next request).
//
// The command that starts the session may print its shell's pid (which exec makes virsh's) before virsh starts,
// on a line with a nonce of its own (ssh/remote-pid.ts): kill() hands it to the transport, which can then kill the
// process even where the SSH server refuses signal requests (OpenSSH does for sessions without privilege
// separation, e.g. root logins). The pid is looked for only in that line, among the stream's first characters
// (PidAnnouncement.window) and before virsh answered the handshake.
//
// Requests run one at a time. A request that times out or outgrows the bound kills the session; so does
// anything that ends it; the owner starts a new one (or falls back to one-shot exec) on the next call.

export interface SessionEnd {
  code: number | null;
  signal?: string;
  /** the channel closed without an exit status and the connection under it is gone */
  connectionLost: boolean;
}

/** The transport (an ssh exec channel; a local process in tests). */
export interface SessionStream {
  write(s: string): void;
  /** close stdin and the channel: virsh exits at EOF */
  end(): void;
  /** KILL the remote process (and its process group, given the pid the session printed) and close */
  kill(pid?: number): void;
  onData(cb: (chunk: Buffer) => void): void;
  onClose(cb: (how: SessionEnd) => void): void;
  /** the connection under the stream died (reported before, or instead of, the channel's close) */
  onDrop?(cb: (e: BillboardError) => void): void;
}

/** The line the command that starts a session prints its pid on (ssh/remote-pid.ts makes one). */
export interface PidAnnouncement {
  /** how many characters from the stream's start the line may be found in */
  readonly window: number;
  /** the pid announced, if `text` (output from the stream's start) holds the whole line */
  find(text: string): number | undefined;
}

export interface Segment {
  /** the command's output, prompt and echo stripped ('' when it failed) */
  out: string;
  /** the command's error text (its `error: …` lines) when it failed */
  error?: string;
}

export interface Framing {
  prompt: string;
  /** readline echoes each input line after the prompt */
  echoes: boolean;
}

/** arguments that may go on a virsh session's command line as they are (no quoting needed) */
const PLAIN_ARG = /^[A-Za-z0-9_.:-]+$/;

/**
 * A command line for virsh's own parser: plain arguments as they are, others in single quotes (literal up to
 * the next quote, as in sh); undefined when an argument cannot be written so (a quote, a control character).
 */
export function sessionLine(args: string[]): string | undefined {
  const out: string[] = [];
  for (const a of args) {
    if (PLAIN_ARG.test(a)) out.push(a);
    else if (a && !/['\x00-\x1f\x7f]/.test(a)) out.push(`'${a}'`);
    else return undefined;
  }
  return out.join(' ');
}

export const markerIn = (nonce: string, tag: string | number): string => `echo @@BB''${nonce}:${tag}@@`;
export const markerOut = (nonce: string, tag: string | number): string => `@@BB${nonce}:${tag}@@`;

/** The prompt (and whether input is echoed) from what virsh printed before the handshake marker's output. */
export function learnFraming(pre: string, readyIn: string): Framing {
  const echoed = pre.endsWith(readyIn + '\n');
  const head = echoed ? pre.slice(0, pre.length - readyIn.length - 1) : pre;
  return { prompt: head.slice(head.lastIndexOf('\n') + 1), echoes: echoed };
}

/**
 * One response (from the request's first byte through its last marker) → one segment per command line.
 * Throws when a marker is missing (the caller only passes complete responses).
 */
export function splitResponse(text: string, lines: string[], nonce: string, f: Framing): Segment[] {
  const segs: Segment[] = [];
  let pos = 0;
  for (let i = 0; i < lines.length; i++) {
    const mark = markerOut(nonce, i);
    const at = text.indexOf(mark, pos);
    if (at < 0) throw new Error(`virsh session: marker ${i} missing`);
    let raw = text.slice(pos, at);
    pos = at + mark.length;
    const lead = f.prompt + (f.echoes ? lines[i] + '\n' : '');
    if (i === 0 && f.echoes) {
      // the first segment also holds what followed the previous request's last marker (the no-op line)
      const k = raw.indexOf(lead);
      if (k >= 0) raw = raw.slice(k + lead.length);
    } else if (i === 0) {
      while (lead && raw.startsWith(lead)) raw = raw.slice(lead.length);
    } else if (raw.startsWith(lead)) raw = raw.slice(lead.length);
    const tail = f.prompt + (f.echoes ? markerIn(nonce, i) + '\n' : '');
    if (tail && raw.endsWith(tail)) raw = raw.slice(0, raw.length - tail.length);
    segs.push(/^\s*error:/.test(raw) ? { out: '', error: raw } : { out: raw });
  }
  return segs;
}

/** Why a session did not start: the owner falls back to one-shot exec for 'exited' and 'timeout'. */
export class SessionStartError extends Error {
  constructor(
    readonly kind: 'exited' | 'timeout' | 'lost',
    message: string,
    readonly output = '',
  ) {
    super(message);
  }
}

/** The session was already gone before the request was sent (nothing ran): safe to retry on a new one. */
export class SessionGoneError extends Error {}

export interface VirshSessionOptions {
  /** host name for error messages */
  host: string;
  /** bytes a single response may have; beyond it the session is killed and the request fails */
  maxBytes: number;
  /** the pid line the command that starts the session prints (none: the session is killed by signal only) */
  pidLine?: PidAnnouncement;
}

interface Pending {
  end: string;
  bytes: number;
  resolve(text: string): void;
  reject(e: Error): void;
}

/** longer than any marker */
const TAIL = 128;

/** sent after each request's last marker (see the header) */
const NOOP = 'echo\n';

/** output between requests (virsh's next prompt): more than this is garbage, and the session is dropped */
const IDLE_MAX = 64 * 1024;

function describeEnd(how: SessionEnd): string {
  if (how.signal) return `killed by signal ${how.signal}`;
  if (how.code !== null) return `exited with status ${how.code}`;
  return 'ended without an exit status (connection lost?)';
}

export class VirshSession {
  /** received text not yet handed out, in arrival order (joined once per answer: no quadratic concatenation) */
  private parts: string[] = [];
  private partsLen = 0;
  /** the last TAIL characters received, so a marker cut across two chunks is still found */
  private tail = '';
  private readonly decoder = new StringDecoder('utf8');
  private idleBytes = 0;
  private current?: Pending;
  private chain: Promise<unknown> = Promise.resolve();
  private framing: Framing = { prompt: '', echoes: false };
  private endedHow?: SessionEnd;
  private killed = false;
  /** the stream's first characters (up to the pid line's window) before the handshake's answer */
  private head = '';
  /** virsh answered the handshake: what comes now is command output, never a pid line */
  private started = false;
  /** the remote pid announced before virsh started, if any */
  pid?: number;

  private constructor(
    private readonly stream: SessionStream,
    private readonly opts: VirshSessionOptions,
  ) {
    stream.onData((d) => this.onData(d));
    stream.onClose((how) => this.onClose(how));
    stream.onDrop?.((e) => this.dropped(e));
  }

  /** Start over a stream that runs `virsh -q -c URI 2>&1`; resolves once virsh answers the handshake. */
  static async start(stream: SessionStream, o: VirshSessionOptions, timeoutMs: number): Promise<VirshSession> {
    const s = new VirshSession(stream, o);
    const nonce = randomBytes(8).toString('hex');
    const readyIn = markerIn(nonce, 'r');
    let text: string;
    try {
      text = await s.exchange(`${readyIn}\n${NOOP}`, markerOut(nonce, 'r'), timeoutMs, 'session start');
    } catch (e) {
      s.kill();
      const out = s.text().slice(-4096);
      const how = s.endedHow;
      if ((e as BillboardError).code === 'TIMEOUT')
        throw new SessionStartError('timeout', `virsh session did not answer within ${timeoutMs} ms`, out);
      // no exit status: the channel was torn down under virsh (connection trouble), not a virsh that gave up
      if (how && (how.code !== null || how.signal))
        throw new SessionStartError('exited', `virsh session ${describeEnd(how)} before answering`, out);
      if (how || (e as BillboardError).code === 'HOST_DOWN') throw new SessionStartError('lost', (e as Error).message, out);
      throw new SessionStartError('exited', (e as Error).message, out);
    }
    const pre = text.slice(0, text.length - markerOut(nonce, 'r').length);
    s.started = true;
    s.framing = learnFraming(pre, readyIn);
    return s;
  }

  get alive(): boolean {
    return !this.endedHow && !this.killed;
  }

  /** a request is waiting for its answer */
  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Run command lines (each one virsh command; no newlines) and return one segment per line. */
  request(lines: string[], o: { timeoutMs: number; what: string; timeoutLabelMs?: number }): Promise<Segment[]> {
    const t0 = Date.now();
    if (!lines.length) return Promise.resolve([]);
    const run = this.chain.then(async () => {
      if (!this.alive) throw new SessionGoneError('virsh session ended');
      const left = o.timeoutMs - (Date.now() - t0);
      const label = o.timeoutLabelMs ?? o.timeoutMs;
      if (left <= 0) throw timeoutError(this.opts.host, o.what, label);
      const nonce = randomBytes(8).toString('hex');
      for (const l of lines) if (/[\r\n]/.test(l)) throw new Error('virsh session: a command line may not contain a newline');
      const input = lines.map((l, i) => `${l}\n${markerIn(nonce, i)}\n`).join('') + NOOP;
      const text = await this.exchange(input, markerOut(nonce, lines.length - 1), left, o.what, label);
      return splitResponse(text, lines, nonce, this.framing);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Send input; resolve with everything up to and including `end` once it arrives. */
  private exchange(input: string, end: string, timeoutMs: number, what: string, labelMs = timeoutMs): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      // settle runs only after the timer is set (every caller is the timer, later data, or the write below)
      const settle = (f: () => void) => {
        clearTimeout(timer);
        if (this.current === p) this.current = undefined;
        f();
      };
      const p: Pending = {
        end,
        bytes: this.partsLen,
        resolve: (t) => settle(() => resolve(t)),
        reject: (e) => settle(() => reject(e)),
      };
      const timer = setTimeout(() => {
        p.reject(timeoutError(this.opts.host, what, labelMs));
        this.kill();
      }, timeoutMs);
      this.current = p;
      this.idleBytes = 0;
      try {
        this.stream.write(input);
      } catch (e) {
        p.reject(hostError('HOST_ERROR', this.opts.host, `${what}: cannot write to the virsh session: ${(e as Error).message}`));
        this.kill();
        return;
      }
      this.scan(this.text(), 0); // the answer may already be buffered (never for a fresh nonce, but cheap)
    });
  }

  private onData(d: Buffer): void {
    const p = this.current;
    if (p) {
      p.bytes += d.length;
      if (p.bytes > this.opts.maxBytes) {
        p.reject(hostError('HOST_ERROR', this.opts.host, `virsh session output exceeded ${this.opts.maxBytes} bytes`));
        this.kill();
        return;
      }
    } else {
      this.idleBytes += d.length;
      if (this.idleBytes > IDLE_MAX) {
        this.kill(); // nobody asked: a session that talks on its own is not one we understand
        return;
      }
    }
    const str = this.decoder.write(d);
    if (!str) return;
    const announced = this.opts.pidLine;
    if (this.pid === undefined && !this.started && announced && this.head.length < announced.window) {
      this.head += str.slice(0, announced.window - this.head.length);
      this.pid = announced.find(this.head);
    }
    const probeAt = this.partsLen - this.tail.length; // where tail + str starts in the received text
    const probe = this.tail + str;
    this.parts.push(str);
    this.partsLen += str.length;
    this.tail = probe.slice(-TAIL);
    if (p) this.scan(probe, probeAt);
  }

  private text(): string {
    if (this.parts.length > 1) this.parts = [this.parts.join('')];
    return this.parts[0] ?? '';
  }

  /** Look for the pending request's end marker in `probe` (received text from offset `at`); hand out the answer. */
  private scan(probe: string, at: number): void {
    const p = this.current;
    if (!p) return;
    const i = probe.indexOf(p.end);
    if (i < 0) return;
    const stop = at + i + p.end.length;
    const all = this.text();
    const rest = all.slice(stop);
    this.parts = rest ? [rest] : [];
    this.partsLen = rest.length;
    this.tail = rest.slice(-TAIL);
    p.resolve(all.slice(0, stop));
  }

  private onClose(how: SessionEnd): void {
    if (this.endedHow) return;
    this.endedHow = how;
    const p = this.current;
    if (!p) return;
    const bytes = p.bytes;
    if (!how.signal && how.code === null) {
      p.reject(
        hostError(how.connectionLost ? 'HOST_DOWN' : 'HOST_ERROR', this.opts.host, `virsh session interrupted: ${describeEnd(how)}`),
      );
    } else {
      p.reject(hostError('HOST_ERROR', this.opts.host, `truncated output: virsh session ${describeEnd(how)} after ${bytes} bytes`));
    }
  }

  /** The connection under the session died (reported by the connection, possibly before the channel closes). */
  dropped(e: BillboardError): void {
    this.current?.reject(
      hostError('HOST_DOWN', this.opts.host, `virsh session interrupted: ${e.message.replace(`${this.opts.host}: `, '')}`),
    );
    this.kill(false); // no connection to kill it through; sshd's end hangs up on it
  }

  /**
   * Kill the remote virsh (hung or misbehaving); the pending request fails (with `why`, when given).
   * byPid: also kill it by its announced pid.
   */
  kill(byPid = true, why?: BillboardError): void {
    if (this.killed) return;
    this.killed = true;
    this.current?.reject(why ?? hostError('HOST_ERROR', this.opts.host, 'virsh session killed'));
    try {
      // after the stream ended the process is gone (and its pid may be someone else's): just close
      this.stream.kill(this.endedHow || !byPid ? undefined : this.pid);
    } catch {
      /* already gone */
    }
  }

  /** Let virsh exit (EOF on stdin) and close the channel. */
  close(): void {
    if (this.killed) return;
    this.killed = true;
    this.current?.reject(hostError('HOST_DOWN', this.opts.host, 'virsh session closed'));
    try {
      this.stream.end();
    } catch {
      /* already gone */
    }
  }
}
