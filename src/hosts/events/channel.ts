import { spawn } from 'node:child_process';
import { childEnv } from '../../model/child-env.js';
import type { BillboardError } from '../../model/errors.js';
import type { EventChannel } from '../../model/host-driver.js';
import { safeText } from '../../model/text.js';
import type { SshConnection } from '../ssh/connection.js';
import { shQuote } from '../virsh/commands.js';

// The transports of a host's domain event stream: one more long-lived exec channel on the SSH host's connection, or
// a local child for a libvirt-driver host. Both run the same sh wrapper around `virsh event`: the shell holds stdin
// and kills its whole process group when stdin closes (the channel went, or the console did) or when virsh ends.
// A `virsh event --loop` that nobody reads would otherwise live on until its next event hits a closed pipe.

/** the sh command that runs the stream (virsh's stderr joins stdout: its last line says why it ended) */
export function eventCommand(virsh: string, uri: string): string {
  const run = `LC_ALL=C ${shQuote(virsh)} -c ${shQuote(uri)} event --all --loop --timestamp 2>&1`;
  return `( ${run}; kill -KILL 0 ) & cat >/dev/null; kill -KILL 0`;
}

/** keeps the tail of what a stream said that was not an event, for "why it ended" */
function lastWords(): { add(t: string): void; why(fallback: string): string } {
  let tail = '';
  return {
    add: (t) => void (tail = (tail + t).slice(-512)),
    why: (fallback) => {
      const line = tail
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.includes("event '"))
        .pop();
      return line ? safeText(line, 200) : fallback;
    },
  };
}

export async function openSshEventChannel(conn: SshConnection, virsh: string, uri: string): Promise<EventChannel> {
  let ended = false;
  let endCb: ((why: string) => void) | undefined;
  let dropped: string | undefined;
  const words = lastWords();
  const handle = await conn.openChannel(eventCommand(virsh, uri), (e: BillboardError) => (dropped = e.message), 'virsh event');
  const ch = handle.channel;
  ch.stderr.resume(); // the login shell's chatter; virsh's own stderr is in stdout
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    handle.release();
    endCb?.(why);
  };
  ch.on('close', () => end(dropped ?? words.why('virsh event ended')));
  return {
    onData: (cb) =>
      void ch.on('data', (b: Buffer) => {
        const t = b.toString('utf8');
        words.add(t);
        cb(t);
      }),
    onEnd: (cb) => {
      endCb = cb;
    },
    close: () => {
      try {
        ch.end(); // EOF on the wrapper's stdin: it kills its group
        ch.close();
      } catch {
        /* already closed */
      }
    },
  };
}

export function openLocalEventChannel(virsh: string, uri: string): Promise<EventChannel> {
  // detached: its own process group, which the wrapper's kill 0 (and close) target, never the console's
  const child = spawn('sh', ['-c', eventCommand(virsh, uri)], { detached: true, stdio: ['pipe', 'pipe', 'ignore'], env: childEnv() });
  let endCb: ((why: string) => void) | undefined;
  let ended = false;
  const words = lastWords();
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    endCb?.(why);
  };
  child.on('error', (e) => end(`cannot run sh: ${e.message}`));
  child.on('close', () => end(words.why('virsh event ended')));
  child.stdin.on('error', () => undefined); // the wrapper is gone: close() follows
  child.stdout.setEncoding('utf8');
  return Promise.resolve({
    onData: (cb) =>
      void child.stdout.on('data', (t: string) => {
        words.add(t);
        cb(t);
      }),
    onEnd: (cb) => {
      endCb = cb;
    },
    close: () => {
      child.stdin.end();
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
  });
}
