import { spawn } from 'node:child_process';
import type { ExecSinkConfig } from '../model/alerts-config.js';
import { childEnv } from '../model/child-env.js';
import { errorLine } from '../model/errors.js';
import { safeText } from '../model/text.js';
import { SinkState, type AlertLog, type AlertMessage, type DeliveryResult, type Sink, type SinkCounters } from './sink.js';

/** what is kept of a command's output for the log */
const MAX_OUTPUT = 2048;
/** after the timeout's SIGTERM, SIGKILL follows this much later */
const KILL_GRACE_MS = 2000;

/**
 * Runs a command per message: argv as configured (no shell), the event's JSON on stdin, the environment without
 * the console's own variables (childEnv). At most `concurrency` run at once, each within `timeoutS` (then SIGTERM,
 * then SIGKILL); the exit status is logged. A failed command is not run again: a pager script that half-ran may
 * already have paged. The queue is bounded like the webhook's: the oldest message is dropped and counted.
 */
export class ExecSink implements Sink {
  readonly kind = 'exec';
  readonly state: SinkState;
  private closed = false;
  private readonly running = new Set<Promise<void>>();

  constructor(
    readonly name: string,
    private readonly cfg: ExecSinkConfig,
    private readonly log?: AlertLog,
  ) {
    this.state = new SinkState(cfg.queue);
  }

  deliver(msg: AlertMessage): void {
    if (this.closed) return;
    const dropped = this.state.push(msg);
    if (dropped && (this.state.dropped === 1 || this.state.dropped % 100 === 0)) {
      this.log?.warn({ sink: this.name, dropped: this.state.dropped }, 'alert queue full: the oldest alert was dropped');
    }
    this.pump();
  }

  attempt(msg: AlertMessage): Promise<DeliveryResult> {
    return this.run(msg.body);
  }

  counters(): SinkCounters {
    return this.state.counters(this.name, this.kind, safeText(this.cfg.command.join(' '), 256));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.running]);
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.cfg.concurrency && this.state.queue.length) {
      const msg = this.state.queue.shift()!;
      const job = this.one(msg).finally(() => {
        this.running.delete(job);
        this.state.inFlight = this.running.size;
        this.pump();
      });
      this.running.add(job);
      this.state.inFlight = this.running.size;
    }
  }

  private async one(msg: AlertMessage): Promise<void> {
    const r = await this.run(msg.body);
    const what = { sink: this.name, type: msg.event.type, ms: r.ms, result: r.detail };
    if (r.ok) {
      this.state.ok(msg, Date.now());
      this.log?.info(what, 'alert command ran');
    } else {
      this.state.fail(r.detail, Date.now());
      this.log?.warn(what, 'alert command failed');
    }
  }

  /** run the command once with `body` on stdin; never rejects */
  private run(body: string): Promise<DeliveryResult> {
    const t0 = Date.now();
    const [file, ...args] = this.cfg.command;
    return new Promise((resolve) => {
      let output = '';
      let timedOut = false;
      let settled = false;
      const finish = (ok: boolean, detail: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(killer);
        const tail = output.trim() ? `; output: ${output.trim().split('\n')[0]}` : '';
        resolve({ ok, ms: Date.now() - t0, detail: safeText(`${detail}${ok ? '' : tail}`, 256) });
      };
      let killer: NodeJS.Timeout | undefined;
      // its own process group, so a timeout also ends what the command started (a script's sleep, a curl)
      const child = spawn(file!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: childEnv(), shell: false, detached: true });
      const signal = (sig: NodeJS.Signals): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, sig);
        } catch {
          child.kill(sig);
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        signal('SIGTERM');
        killer = setTimeout(() => signal('SIGKILL'), KILL_GRACE_MS);
        killer.unref();
      }, this.cfg.timeoutS * 1000);
      const keep = (b: Buffer): void => {
        if (output.length < MAX_OUTPUT) output += b.toString('utf8', 0, Math.min(b.length, MAX_OUTPUT - output.length));
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.stdin.on('error', () => undefined); // a command that exits without reading its stdin is not an error
      child.on('error', (e) => finish(false, `could not run ${file}: ${errorLine(e)}`));
      // 'exit', not 'close': something the command left running in the background may hold its output open
      child.on('exit', (code, sig) =>
        setImmediate(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          if (timedOut) return finish(false, `timed out after ${this.cfg.timeoutS} s (killed)`);
          if (code === 0) return finish(true, 'exit 0');
          finish(false, sig ? `killed by ${sig}` : `exit ${code}`);
        }),
      );
      child.stdin.end(body + '\n');
    });
  }
}
