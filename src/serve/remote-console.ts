import type { Duplex } from 'node:stream';
import type { CommandResult, ConsoleApi, ConsoleEvent } from '../console/api.js';
import { complete, helpText, isMutatingLine } from '../console/vocabulary.js';
import { NO_BEACON_COUNTERS, type BillboardSnapshot, type PreCheck } from '../model/types.js';
import { FeedState, type FeedMessage } from './feed.js';
import type { Hello } from './api-session.js';
import { readJsonLines } from './jsonl.js';

// The ConsoleApi of a console attached to a service: the state arrives as the feed's deltas and is read locally
// (the TUI renders on this side), commands go to the service and run there under the operator's name. When the
// connection drops it reconnects on its own, says so in attachment(), and starts again from the whole state.

/** the largest message accepted from the service (the whole state of a big lab, once) */
const MAX_MESSAGE = 256 * 1024 * 1024;

interface Pending {
  resolve: (r: unknown) => void;
  onEvent?: (ev: ConsoleEvent) => void;
}

export interface RemoteConsoleOptions {
  /** open the api stream (an SSH channel, or the pipe to the service) */
  connect: () => Promise<Duplex>;
  /** how to name the service in the header, e.g. "console:7448" */
  target: string;
  /** reconnect after a drop (TUIs do; a child of the service does not: its session ended) */
  reconnect: boolean;
  onFatal?: (why: string) => void;
}

const notConnected = (line: string): CommandResult => ({
  command: line.trim().split(/\s+/)[0] ?? '',
  ok: false,
  error: { code: 'NOT_AVAILABLE', message: 'not connected to the service (reconnecting); nothing was sent' },
});

export class RemoteConsole implements ConsoleApi {
  private readonly state = new FeedState();
  private hello?: Hello;
  private stream?: Duplex;
  private readonly listeners = new Set<() => void>();
  private readonly pendingReq = new Map<number, Pending>();
  private nextId = 1;
  private snap?: BillboardSnapshot;
  private status: 'connecting' | 'attached' | 'reconnecting' | 'closed' = 'connecting';
  private reconnectedAt = 0;
  private closed = false;
  private firstState?: () => void;
  /** resolves once the whole state has arrived (or the first connect failed) */
  readonly ready: Promise<void>;

  constructor(private readonly opts: RemoteConsoleOptions) {
    this.ready = new Promise((r) => (this.firstState = r));
  }

  /** connect; the first failure rejects (the caller says why and exits 2), later ones retry */
  async start(): Promise<void> {
    await this.attach();
    await this.ready;
  }

  private async attach(): Promise<void> {
    const stream = await this.opts.connect();
    this.stream = stream;
    stream.on('close', () => this.dropped(stream));
    stream.on('error', () => this.dropped(stream));
    readJsonLines(
      stream,
      MAX_MESSAGE,
      (m) => this.onMessage(m),
      () => stream.destroy(),
    );
  }

  private dropped(stream: Duplex): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    for (const [id, p] of this.pendingReq) {
      this.pendingReq.delete(id);
      p.resolve({
        command: '',
        ok: false,
        error: { code: 'NOT_AVAILABLE', message: 'the connection to the service dropped; the command runs on there (see the audit log)' },
      });
    }
    if (this.closed) return;
    if (!this.opts.reconnect) {
      this.status = 'closed';
      this.notify();
      this.opts.onFatal?.('the service closed the connection');
      return;
    }
    this.status = 'reconnecting';
    this.notify();
    void this.retry();
  }

  private async retry(): Promise<void> {
    let delay = 500;
    while (!this.closed && !this.stream) {
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(5000, delay * 2);
      try {
        await this.attach();
        this.reconnectedAt = Date.now();
      } catch {
        /* the service is still away: try again */
      }
    }
  }

  private onMessage(m: Record<string, unknown>): void {
    if (m.t === 'hello') this.hello = m as unknown as Hello;
    else if (m.t === 'full' || m.t === 'd') {
      this.state.apply(m as unknown as FeedMessage);
      this.snap = undefined;
      if (m.t === 'full') {
        this.status = 'attached';
        this.firstState?.();
      }
      this.notify();
    } else if (m.t === 'ev') this.pendingReq.get(m.id as number)?.onEvent?.(m.ev as ConsoleEvent);
    else if (m.t === 'res' || m.t === 'choices') {
      const p = this.pendingReq.get(m.id as number);
      this.pendingReq.delete(m.id as number);
      p?.resolve(m.t === 'res' ? m.r : m.c);
    }
  }

  private request<T>(msg: object, onEvent?: (ev: ConsoleEvent) => void): Promise<T> | undefined {
    const stream = this.stream;
    if (!stream || this.status !== 'attached') return undefined;
    const id = this.nextId++;
    const p = new Promise<T>((resolve) => this.pendingReq.set(id, { resolve: resolve as (r: unknown) => void, onEvent }));
    stream.write(JSON.stringify({ ...msg, id }) + '\n');
    return p;
  }

  get readOnly(): boolean {
    return this.hello?.readOnly ?? false;
  }

  get actor(): string {
    return this.hello?.actor ?? '';
  }

  /** the header's words: who this is, where, who else is attached, and whether the link is up */
  attachment(): string {
    const who = this.hello ? `${this.hello.actor}${this.hello.role ? ` (${this.hello.role})` : ''}` : '';
    if (this.status === 'reconnecting') return `${who} · service ${this.opts.target} unreachable: reconnecting…`;
    if (this.status === 'closed') return `${who} · disconnected from ${this.opts.target}`;
    if (this.status === 'connecting') return `connecting to ${this.opts.target}…`;
    const again = Date.now() - this.reconnectedAt < 15_000 ? ' · reconnected' : '';
    return `${who} on ${this.opts.target}${again} · attached: ${this.state.attached.join(', ') || '-'}`;
  }

  async run(line: string, onEvent?: (ev: ConsoleEvent) => void): Promise<CommandResult> {
    return (await this.request<CommandResult>({ t: 'run', line }, onEvent)) ?? notConnected(line);
  }

  snapshot(): BillboardSnapshot {
    this.snap ??= Object.freeze({
      version: this.state.version,
      at: this.state.at,
      rows: this.state.rows.get(),
      findings: this.state.findings.get(),
      hosts: this.state.hosts.get(),
      beacons: this.state.beacons ?? { ...NO_BEACON_COUNTERS, perSecond: 0 },
    });
    return this.snap;
  }

  jobs() {
    return this.state.jobs.get();
  }

  pending() {
    return this.state.pending.get();
  }

  auditLog(last?: number) {
    const a = this.state.audit.get();
    return last === undefined ? a : a.slice(Math.max(0, a.length - last));
  }

  async migrationChoices(vmRef: string): Promise<{ host: string; ok: boolean; checks: PreCheck[] }[]> {
    const r = await this.request<unknown>({ t: 'choices', vm: vmRef });
    return Array.isArray(r) ? (r as { host: string; ok: boolean; checks: PreCheck[] }[]) : [];
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  complete(partial: string): string[] {
    return complete(partial);
  }

  help(command?: string): string {
    return helpText(command);
  }

  isMutating(line: string): boolean {
    return isMutatingLine(line);
  }

  close(): void {
    this.closed = true;
    this.stream?.destroy();
  }
}
