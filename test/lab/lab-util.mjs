// Small helpers the lab's plain-JS modules share: run a command, log a line, sleep.
import { execFile } from 'node:child_process';

export const log = (msg) => {
  if (process.env.BILLBOARD_LAB_QUIET !== '1') process.stderr.write(`[lab] ${msg}\n`);
};

/** execFile as a promise; the error names the command and the last lines of its stderr. */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20, cwd: opts.cwd, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        if (err) {
          const why = String(stderr || err.message)
            .trim()
            .split('\n')
            .slice(-3)
            .join(' | ');
          reject(new Error(`${cmd} ${args.join(' ')}: ${why}`));
        } else resolve(String(stdout));
      },
    );
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
