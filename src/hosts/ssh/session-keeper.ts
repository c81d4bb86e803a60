import { SESSION_RETRY_MAX_MS } from '../defaults.js';
import { hostError } from '../errors.js';
import type { Logger } from '../logger.js';
import { SharedStart } from '../shared-start.js';
import { SessionStartError, VirshSession } from '../virsh/session.js';
import type { SshConnection } from './connection.js';
import { openSshSessionStream } from './session-stream.js';
import { backoffMs } from '../../model/backoff.js';

// One host's persistent virsh session over its SSH connection: started on the first call that wants it (callers
// at the same time share the start), replaced after it ends, and, when virsh cannot hold one (it exits or stays
// silent), not tried again for a backoff that doubles per failure, so those calls use one-shot execs.

export interface SessionKeeperOptions {
  /** host name for errors and logs */
  host: string;
  virsh: string;
  uri: string;
  /** bound on one response */
  maxBytes: number;
  /** false: never start a session (every call uses exec) */
  enabled: boolean;
  startTimeoutMs: number;
  retryMs: number;
  log?: Logger;
}

/** What the keeper did (SshDriverStats shares these counters). */
export interface SessionCounters {
  sessionStarts: number;
  sessionStartFailures: number;
}

export class SessionKeeper {
  private session?: VirshSession;
  private readonly starting = new SharedStart<VirshSession | undefined>();
  private offUntil = 0;
  private failures = 0;
  /** bumped by close(): a session that finishes starting after it is not kept */
  private generation = 0;
  /** a running kill of a session's processes (close() waits for it: the kill needs the connection) */
  private killing?: Promise<void>;

  constructor(
    private readonly conn: SshConnection,
    private readonly opts: SessionKeeperOptions,
    private readonly counters: SessionCounters,
  ) {}

  /** a session is open now */
  get alive(): boolean {
    return this.session?.alive ?? false;
  }

  /** The live session, a new one, or undefined (use exec). Throws a host error when the connection fails. */
  get(deadline: number): Promise<VirshSession | undefined> {
    if (this.session?.alive) return Promise.resolve(this.session);
    this.session = undefined;
    if (!this.opts.enabled || Date.now() < this.offUntil) return Promise.resolve(undefined);
    return this.starting.join(() => this.start(deadline));
  }

  /** Hand the open session over when it is idle (the next call starts a new one); undefined otherwise. */
  takeIdle(): VirshSession | undefined {
    const s = this.session;
    if (!s?.alive || s.busy) return undefined;
    this.session = undefined;
    return s;
  }

  /** End the session (killed when busy: the scanner gave up on it), then the connection, then a start in flight. */
  async close(): Promise<void> {
    this.generation++;
    const starting = this.starting.current;
    const s = this.session;
    this.session = undefined;
    if (s?.busy) s.kill();
    else s?.close();
    await this.killing;
    await this.conn.close();
    (await starting?.catch(() => undefined))?.close();
  }

  private async start(deadline: number): Promise<VirshSession | undefined> {
    const gen = this.generation;
    const { stream, pidLine } = await openSshSessionStream(this.conn, this.opts.virsh, this.opts.uri, (k) => this.track(k));
    this.counters.sessionStarts++;
    let s: VirshSession;
    try {
      const timeoutMs = Math.max(1, Math.min(this.opts.startTimeoutMs, deadline - Date.now()));
      s = await VirshSession.start(stream, { host: this.opts.host, maxBytes: this.opts.maxBytes, pidLine }, timeoutMs);
    } catch (e) {
      this.counters.sessionStartFailures++;
      const se = e instanceof SessionStartError ? e : new SessionStartError('exited', (e as Error).message);
      if (se.kind === 'lost') throw hostError('HOST_DOWN', this.opts.host, se.message);
      this.backOff(se);
      return undefined;
    }
    this.failures = 0;
    if (gen !== this.generation) {
      s.close(); // closed while starting
      return undefined;
    }
    this.session = s;
    return s;
  }

  /** virsh exited or stayed silent: this host cannot hold a session now; one-shot execs for a while */
  private backOff(se: SessionStartError): void {
    this.failures++;
    const backoff = backoffMs(this.opts.retryMs, SESSION_RETRY_MAX_MS, this.failures - 1);
    this.offUntil = Date.now() + backoff;
    this.opts.log?.warn?.(
      { host: this.opts.host, err: se.message, output: se.output.slice(-300), retryInMs: backoff },
      'virsh session unavailable, using exec',
    );
  }

  private track(kill: Promise<void>): void {
    this.killing = kill;
    void kill.finally(() => {
      if (this.killing === kill) this.killing = undefined;
    });
  }
}
