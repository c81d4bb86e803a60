import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { SyslogSinkConfig } from '../model/alerts-config.js';
import { errorLine } from '../model/errors.js';
import type { Severity } from '../model/types.js';
import type { AlertEvent } from './events.js';
import { SinkState, type AlertMessage, type DeliveryResult, type Sink, type SinkCounters } from './sink.js';

const FACILITY: Record<SyslogSinkConfig['facility'], number> = {
  user: 1,
  daemon: 3,
  auth: 4,
  authpriv: 10,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};
/** syslog severities: crit, err, warning, notice; a test is info */
const LEVEL: Record<Severity, number> = { critical: 2, high: 3, medium: 4, low: 5 };
/** RFC 5612's enterprise number for documentation: structured data names need one */
const SD_ID = 'billboard@32473';

/** RFC 5424 PRINTUSASCII fields (HOSTNAME, APP-NAME, MSGID): no spaces, nothing outside 33-126, bounded */
function field(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean || '-';
}

/** an SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424 6.3.3); control characters are already escaped */
function sdValue(s: string): string {
  return s.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

/** One RFC 5424 line: `<PRI>1 TIMESTAMP HOST billboard PID TYPE [billboard@32473 …] summary`. */
export function rfc5424(ev: AlertEvent, facility: SyslogSinkConfig['facility'], host = hostname(), pid = process.pid): string {
  const level = ev.type === 'test' ? 6 : LEVEL[ev.severity];
  const params: [string, string | undefined][] = [
    ['type', ev.type],
    ['severity', ev.severity],
    ['finding', ev.finding?.id],
    ['code', ev.code],
    ['vm', ev.finding?.vm ?? ev.job?.vm],
    ['hosts', ev.finding?.hosts.join(',') ?? (ev.job ? `${ev.job.source},${ev.job.destination}` : ev.host?.name)],
    ['job', ev.job?.id],
    ['count', ev.count !== undefined ? String(ev.count) : undefined],
  ];
  const sd = params
    .filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => `${k}="${sdValue(v)}"`)
    .join(' ');
  const ts = new Date(ev.at).toISOString();
  const head = `<${FACILITY[facility] * 8 + level}>1 ${ts} ${field(host, 255)} billboard ${pid} ${field(ev.type, 32)}`;
  return `${head} [${SD_ID} ${sd}] ${ev.summary}`;
}

interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', fn: (e: Error) => void): void;
  close(): void;
}

/** unix-dgram is an optional native dependency: without it, only stdout is available */
function unixDgram(): { createSocket(type: 'unix_dgram'): UnixDgramSocket } | undefined {
  try {
    return createRequire(import.meta.url)('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };
  } catch {
    return undefined;
  }
}

/**
 * One line per event to the local syslog socket (a unix datagram socket: Node has none of its own, so the
 * well-kept `unix-dgram` addon sends it), or to stdout under systemd, where journald reads it. A datagram either
 * goes or fails at once, so there is no queue to bound.
 */
export class SyslogSink implements Sink {
  readonly kind = 'syslog';
  readonly state = new SinkState(1);
  private socket: UnixDgramSocket | undefined;
  private readonly toStdout: boolean;

  constructor(
    readonly name: string,
    private readonly cfg: SyslogSinkConfig,
    env: NodeJS.ProcessEnv = process.env,
    private readonly out: (line: string) => void = (line) => void process.stdout.write(line),
  ) {
    this.toStdout = cfg.transport === 'stdout' || (cfg.transport === 'auto' && !!env.JOURNAL_STREAM);
  }

  deliver(msg: AlertMessage): void {
    void this.attempt(msg).then((r) => (r.ok ? this.state.ok(msg, Date.now()) : this.state.fail(r.detail, Date.now())));
  }

  async attempt(msg: AlertMessage): Promise<DeliveryResult> {
    const t0 = Date.now();
    const line = rfc5424(msg.event, this.cfg.facility);
    if (this.toStdout) {
      this.out(line + '\n');
      return { ok: true, ms: Date.now() - t0, detail: 'written to stdout' };
    }
    try {
      await this.send(Buffer.from(line, 'utf8'));
      return { ok: true, ms: Date.now() - t0, detail: `sent to ${this.cfg.socket}` };
    } catch (e) {
      return { ok: false, ms: Date.now() - t0, detail: `${this.cfg.socket}: ${errorLine(e)}` };
    }
  }

  counters(): SinkCounters {
    return this.state.counters(this.name, this.kind, this.toStdout ? 'stdout' : this.cfg.socket);
  }

  async close(): Promise<void> {
    this.socket?.close();
    this.socket = undefined;
  }

  private send(buf: Buffer): Promise<void> {
    if (!this.socket) {
      const lib = unixDgram();
      if (!lib) return Promise.reject(new Error('the unix-dgram module is not installed (use "transport": "stdout")'));
      this.socket = lib.createSocket('unix_dgram');
      this.socket.on('error', () => undefined);
    }
    const sock = this.socket;
    return new Promise((resolve, reject) =>
      sock.send(buf, 0, buf.length, this.cfg.socket, (err) => (err ? reject(describe(err)) : resolve())),
    );
  }
}

/** unix-dgram reports errno as a negative number */
function describe(err: Error & { errno?: number | string }): Error {
  const names: Record<string, string> = {
    '-2': 'no such socket (ENOENT)',
    '-111': 'nobody listens (ECONNREFUSED)',
    '-11': 'busy (EAGAIN)',
  };
  const n = String(err.errno ?? '');
  return new Error(names[n] ?? err.message);
}
