import type { BillboardError } from '../../model/errors.js';
import { pidLine, type PidLine } from './remote-pid.js';
import type { SshConnection } from './connection.js';
import { shQuote } from '../virsh/commands.js';
import type { SessionStream } from '../virsh/session.js';

// The transport of a persistent virsh session over SSH (virsh/session.ts): one long-lived exec channel running
// `virsh -q -c URI` interactively, its stderr merged into stdout.

export interface SshSessionStream {
  stream: SessionStream;
  /** the line the session's shell prints its pid on (hand it to VirshSession.start) */
  pidLine: PidLine;
}

/**
 * Open the channel and wrap it as a SessionStream. `onKill` gets each kill of the session's process group as it
 * starts (the owner waits for it before closing the connection, which the kill needs); it never rejects.
 */
export async function openSshSessionStream(
  conn: SshConnection,
  virsh: string,
  uri: string,
  onKill: (k: Promise<void>) => void,
): Promise<SshSessionStream> {
  let drop: ((e: BillboardError) => void) | undefined;
  const pid = pidLine();
  const handle = await conn.openChannel(
    // COLUMNS: readline echoes each input line; without a terminal it takes the width from COLUMNS (else 80)
    // and redraws a wider line (scrolled, with \r) instead of echoing it: the framing needs the literal echo
    `LC_ALL=C; export LC_ALL; COLUMNS=65535; export COLUMNS; ${pid.echo}; exec ${shQuote(virsh)} -q -c ${shQuote(uri)} 2>&1`,
    (e) => drop?.(e),
    'virsh session',
  );
  const ch = handle.channel;
  let code: number | null = null;
  let sig: string | undefined;
  ch.on('exit', (c: number | null, s?: string) => {
    code = c ?? null;
    sig = s;
  });
  ch.stderr.resume(); // virsh's stderr is merged into stdout (2>&1); drop what the login shell prints
  const close = () => {
    try {
      ch.close();
    } catch {
      /* already closed */
    }
  };
  const stream: SessionStream = {
    write: (t) => void ch.write(t),
    end: () => {
      try {
        ch.end();
      } catch {
        /* already closed */
      }
      close();
    },
    kill: (p) => {
      try {
        ch.signal('KILL');
      } catch {
        /* not supported by this ssh2 channel state */
      }
      // sshd may refuse the signal, and a hung virsh would not read the EOF either: kill the process group
      // the session's shell leads (exec kept its pid, see remote-pid.ts). The channel stays open until the
      // kill ran, so the pid is still the session's.
      if (p === undefined) return close();
      onKill(conn.killGroup(p).finally(close));
    },
    onData: (cb) => void ch.on('data', cb),
    onClose: (cb) =>
      void ch.on('close', () => {
        handle.release();
        cb({ code, signal: sig, connectionLost: code === null && sig === undefined && handle.connectionLost() });
      }),
    onDrop: (cb) => {
      drop = cb;
    },
  };
  return { stream, pidLine: pid };
}
