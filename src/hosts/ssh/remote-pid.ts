import { framingNonce, markPrefix } from '../virsh/framing.js';
import type { PidAnnouncement } from '../virsh/session.js';

// A command run over SSH first has its login shell print its own pid. sshd makes that shell a session leader, so
// the pid names the command's whole process group: what a kill needs where sshd refuses signal requests (OpenSSH
// does for root logins without privilege separation). A login shell may print before it (a motd, an rc file), so
// the line is looked for in the first PID_SEARCH characters.
//
// The line carries a nonce that is fresh for every command: a pid is taken only from the line our own shell
// printed, never from what a command prints (a domain's XML, virsh's error text), which could otherwise aim the
// kill at any process group on the host.

export const PID_SEARCH = 4096;

export interface PidLine extends PidAnnouncement {
  /** the sh command that prints the line (`echo "…$$"`) */
  readonly echo: string;
  /** `text` without that line */
  strip(text: string): string;
}

/** The pid line for one command; the nonce (hex) is random unless a test fixes it. */
export function pidLine(nonce = framingNonce()): PidLine {
  const mark = `${markPrefix(nonce)}pid:`;
  const line = new RegExp(`${mark}(\\d+)\\r?\\n`);
  return {
    echo: `echo "${mark}$$"`,
    window: PID_SEARCH,
    find(text) {
      const m = line.exec(text.slice(0, PID_SEARCH));
      const n = m ? Number(m[1]) : NaN;
      return Number.isSafeInteger(n) && n > 1 ? n : undefined;
    },
    strip: (text) => text.replace(line, ''),
  };
}
