import { createInterface } from 'node:readline';
import type { CommandResult } from '../console/api.js';
import type { Runtime } from '../console/runtime.js';

export interface ScriptOptions {
  json: boolean;
  stopOnError: boolean;
  input: NodeJS.ReadableStream;
  out: (s: string) => void;
  err: (s: string) => void;
}

/**
 * Run grammar lines from stdin, one at a time, in order. Blank lines and `#` comments are skipped.
 * With --json, exactly one result line per command (plus {"event": …} lines for `watch`).
 * Returns the exit code: 0 all commands ok, 1 some failed.
 */
export async function runScript(rt: Runtime, opts: ScriptOptions): Promise<number> {
  const rl = createInterface({ input: opts.input, crlfDelay: Infinity, terminal: false });
  let failed = false;
  let lineNo = 0;
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const r = (await rt.console.run(line, (ev) => {
      if (opts.json) opts.out(JSON.stringify({ event: ev }) + '\n');
      else if (ev.type === 'stage') opts.out(`  ${new Date(ev.at).toISOString()}  ${ev.stage}${ev.detail ? `  ${ev.detail}` : ''}\n`);
      else if (ev.type === 'progress') {
        const s = ev.stats;
        opts.out(
          `  iteration ${s.iteration ?? '-'}  remaining ${s.dataRemainingBytes !== undefined ? Math.round(s.dataRemainingBytes / 1048576) + ' MiB' : '-'}  dirty ${s.dirtyRateBps !== undefined ? (s.dirtyRateBps / 1048576).toFixed(1) + ' MiB/s' : '-'}  bw ${s.bandwidthBps !== undefined ? (s.bandwidthBps / 1048576).toFixed(1) + ' MiB/s' : '-'}${s.source === 'simulated' ? '  (simulated)' : ''}\n`,
        );
      } else if (ev.type === 'end') opts.out(`  ${ev.state}${ev.detail ? `: ${ev.detail}` : ''}\n`);
      else opts.out(`  ${ev.message}\n`);
    })) as CommandResult & { text?: string };
    if (opts.json) {
      const { text: _text, ...rest } = r as CommandResult & { text?: string };
      opts.out(JSON.stringify(rest) + '\n');
    } else if (r.ok) {
      if (r.text) opts.out(r.text + '\n');
    } else {
      opts.err(`line ${lineNo}: ${r.command || 'error'}: ${r.error.message}\n`);
    }
    if (!r.ok) {
      failed = true;
      if (opts.stopOnError) break;
    }
  }
  rl.close();
  return failed ? 1 : 0;
}
