import { isTerminal } from '../model/domain-states.js';
import type { CommandResult, ConsoleApi, ConsoleEvent } from '../console/api.js';
import type { MigrationService } from '../console/services.js';
import { safeText } from '../model/text.js';
import type { MigrationJob } from '../model/types.js';
import { boundedLines, MAX_LINE_BYTES } from './script-lines.js';

export interface ScriptControl {
  /**
   * Set by runScript while it runs; the caller calls it on SIGINT / SIGTERM. True: handled — the script stops
   * reading and waits for running migrations. False: the caller should close the session now (a second signal, or
   * nothing to wait for).
   */
  interrupt?: () => boolean;
}

export interface ScriptOptions {
  json: boolean;
  stopOnError: boolean;
  input: NodeJS.ReadableStream;
  out: (s: string) => void;
  err: (s: string) => void;
  control?: ScriptControl;
  /** at the end of input, wait for running migrations (default true); a service keeps them running, so it does not */
  settle?: boolean;
}

/** what a script runs against: an embedded runtime, or an operator's session in the service */
export interface ScriptTarget {
  console: Pick<ConsoleApi, 'run' | 'jobs'>;
  migrations: Pick<MigrationService, 'watch'>;
}

/** the exit code of a script stopped by a signal */
export const INTERRUPTED = 130;

/** authorized and not ended: closing the session now would cut the job off from the store */
function runningJobs(rt: ScriptTarget): MigrationJob[] {
  return rt.console.jobs().filter((j) => !isTerminal(j.state) && j.state !== 'awaiting-authorization');
}

/**
 * Run grammar lines from stdin, one at a time, in order. Blank lines and `#` comments are skipped. A line longer
 * than 64 KiB is refused ("line N too long", USAGE) and the rest of it is discarded as it streams by.
 * With --json, exactly one result line per command (plus {"event": …} lines for `watch`).
 *
 * When the input ends (or a first SIGINT / SIGTERM arrives) while migrations run, the script waits for each to end,
 * so that its final state is in the store, and says so on stderr; a second signal makes the caller close the session,
 * which cancels what still runs (the VM stays on its source) and leaves the outcome to the next start's recovery.
 * Returns the exit code: 0 all commands ok and every awaited migration completed, 1 otherwise, 130 on a signal.
 */
export async function runScript(rt: ScriptTarget, opts: ScriptOptions): Promise<number> {
  let failed = false;
  let interrupted = false;
  let waiting = false;
  let stop: () => void = () => {};
  const stopped = new Promise<'stop'>((r) => (stop = () => r('stop')));
  if (opts.control) {
    opts.control.interrupt = () => {
      if (waiting || interrupted || runningJobs(rt).length === 0) return false;
      interrupted = true;
      stop();
      return true;
    };
  }
  const lines = boundedLines(opts.input, MAX_LINE_BYTES)[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await Promise.race([lines.next(), stopped]);
      if (next === 'stop' || next.done) break;
      const line = next.value;
      let r: CommandResult & { text?: string };
      if ('tooLong' in line) {
        r = {
          command: '',
          ok: false,
          error: { code: 'USAGE', message: `line ${line.no} too long (more than ${MAX_LINE_BYTES} bytes): skipped` },
        };
      } else {
        const text = line.text.trim();
        if (!text || text.startsWith('#')) continue;
        const result = await Promise.race([rt.console.run(text, (ev) => printEvent(ev, opts)), stopped]);
        if (result === 'stop') break;
        r = result as CommandResult & { text?: string };
      }
      printResult(r, line.no, opts);
      if (!r.ok) {
        failed = true;
        if (opts.stopOnError) break;
      }
    }
  } finally {
    void lines.return?.(undefined);
  }
  waiting = true;
  if (opts.settle === false) return failed ? 1 : 0;
  const settled = await settleJobs(rt, interrupted ? 'interrupted' : 'input ended', opts.err);
  if (interrupted) return INTERRUPTED;
  return failed || !settled ? 1 : 0;
}

/** Wait for every running migration to end; true when each completed. */
async function settleJobs(rt: ScriptTarget, why: string, err: (s: string) => void): Promise<boolean> {
  const jobs = runningJobs(rt);
  if (!jobs.length) return true;
  const list = jobs.map((j) => `${j.id} (${safeText(j.vmName, 64)} ${j.source} → ${j.destination}, ${j.state})`).join(', ');
  err(
    `billboard: ${why}; waiting for migration ${list} to end so that its outcome is recorded. ` +
      `Ctrl-C again cancels it (the VM stays on its source) and the next start records how it ended.\n`,
  );
  const ended = await Promise.all(jobs.map((j) => rt.migrations.watch(j.id, () => {})));
  let allCompleted = true;
  for (const j of ended) {
    if (j.state !== 'completed') allCompleted = false;
    const detail = j.state === 'completed' ? j.result : j.error;
    err(`billboard: ${j.id} ${j.state}${detail ? `: ${safeText(detail, 512)}` : ''}\n`);
  }
  return allCompleted;
}

function printEvent(ev: ConsoleEvent, opts: ScriptOptions): void {
  if (opts.json) return opts.out(JSON.stringify({ event: ev }) + '\n');
  const detail = (d: string | undefined) => (d ? safeText(d, 1024) : '');
  if (ev.type === 'stage') opts.out(`  ${new Date(ev.at).toISOString()}  ${ev.stage}${ev.detail ? `  ${detail(ev.detail)}` : ''}\n`);
  else if (ev.type === 'progress') {
    const s = ev.stats;
    const mib = (n: number | undefined, digits = 1) => (n !== undefined ? (n / 1048576).toFixed(digits) + ' MiB/s' : '-');
    const remaining = s.dataRemainingBytes !== undefined ? Math.round(s.dataRemainingBytes / 1048576) + ' MiB' : '-';
    opts.out(
      `  iteration ${s.iteration ?? '-'}  remaining ${remaining}  dirty ${mib(s.dirtyRateBps)}  bw ${mib(s.bandwidthBps)}` +
        `${s.source === 'simulated' ? '  (simulated)' : ''}\n`,
    );
  } else if (ev.type === 'end') opts.out(`  ${ev.state}${ev.detail ? `: ${detail(ev.detail)}` : ''}\n`);
  else opts.out(`  ${detail(ev.message)}\n`);
}

function printResult(r: CommandResult & { text?: string }, lineNo: number, opts: ScriptOptions): void {
  if (opts.json) {
    const { text: _text, ...rest } = r;
    opts.out(JSON.stringify(rest) + '\n');
  } else if (r.ok) {
    if (r.text) opts.out(r.text + '\n');
  } else {
    // a line refused before it was parsed says "line N …" itself
    opts.err(
      r.command
        ? `line ${lineNo}: ${r.error.message.startsWith(`${r.command}: `) ? '' : `${r.command}: `}${r.error.message}\n`
        : `${r.error.message.startsWith('line ') ? '' : `line ${lineNo}: `}${r.error.message}\n`,
    );
  }
}
